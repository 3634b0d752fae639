// @previrt/vmm: the simulated PC (CPU, memory, devices, Multiboot loader) and, later, the in-place VMM
// and the hypervisor back ends with their cost model.
export const PACKAGE_NAME = '@previrt/vmm';
export { Machine, DEFAULT_RTC_BASE, NS_PER_INSTRUCTION, type MachineOptions, type RunResult, type StopReason } from './machine.js';
export { Cpu, MachineStop, type CpuBus, type CpuHooks } from './cpu.js';
export { MemoryDisk, OverlayDisk, type DiskImage } from './ide.js';
export { ImageError, readElf32 } from './elf.js';
export { findMultibootHeader, loadMultiboot } from './multiboot.js';
export { bzImagePayload, bzImageVmlinux, isBzImage, loadLinux, type LinuxBoot, type LinuxLoadOptions, type PayloadFormat } from './linux.js';
export { createVirtualMachine, BackendError, BACKEND_NAMES, type BackendName, type VirtualMachine, type VirtualMachineOptions } from './backends/run.js';
export { DEFAULT_COSTS, EXIT_REASONS, withExitRoundTrip, type CostTable, type ExitReason } from './backends/costs.js';
export { newCounters, snapshot, total, type Counters } from './backends/counters.js';
export { InPlaceVmm, type Paging } from './inplace/monitor.js';
export { RecordError, loadSites, readRecords, type Site } from './inplace/records.js';
export { PLAIN, STATE, STATE_PHYS, chooseWindow, stubPage, windowLayout, type WindowLayout } from './inplace/window.js';
export * as xenAbi from './inplace/xen-abi.js';
