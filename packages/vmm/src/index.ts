// @previrt/vmm: the simulated PC (CPU, memory, devices, Multiboot loader) and, later, the in-place VMM
// and the hypervisor back ends with their cost model.
export const PACKAGE_NAME = '@previrt/vmm';
export { Machine, DEFAULT_RTC_BASE, NS_PER_INSTRUCTION, type MachineOptions, type RunResult, type StopReason } from './machine.js';
export { Cpu, MachineStop, type CpuBus, type CpuHooks } from './cpu.js';
export { MemoryDisk, OverlayDisk, type DiskImage } from './ide.js';
export { ImageError, readElf32 } from './elf.js';
export { findMultibootHeader, loadMultiboot } from './multiboot.js';
export { bzImagePayload, bzImageVmlinux, isBzImage, loadLinux, type LinuxBoot, type LinuxLoadOptions, type PayloadFormat } from './linux.js';
