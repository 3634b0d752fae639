// @previrt/vmm: Simulated i386 PC, the in-place VMM and the hypervisor back ends with their cost model.
export const PACKAGE_NAME = '@previrt/vmm';
