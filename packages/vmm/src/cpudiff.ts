// The differential CPU test: seeded random sequences of integer and system instructions, assembled
// into the harness kernel of fixtures/vmm/cpudiff and run on QEMU and on the simulated PC; the state
// after each sequence (how it ended, registers, flags, segment registers, CR2, memory hashes, page-table
// accessed/dirty bits) must be the same. The generator writes AT&T text for GNU as, so encodings
// come from the reference assembler. Flags that the SDM leaves undefined and that QEMU itself computes
// differently depending on its translation-block boundaries (OF/SF/AF/PF after bt/bts/btr/btc) are
// masked; every other undefined flag is compared, because the CPU reproduces QEMU's values.

export const SCRATCH = 0x200000;
const STACK_TOP = SCRATCH + 0xf00;

/** xorshift128+-style generator (deterministic across platforms). */
export class Rng {
  private s0: number;
  private s1: number;
  constructor(seed: number) {
    this.s0 = (seed ^ 0x9e3779b9) | 0 || 1;
    this.s1 = Math.imul(seed, 0x85ebca6b) ^ 0xc2b2ae35 | 0 || 2;
    for (let i = 0; i < 8; i++) this.u32();
  }
  u32(): number {
    let x = this.s0;
    const y = this.s1;
    this.s0 = y;
    x ^= x << 23; x ^= x >>> 17; x ^= y ^ (y >>> 26);
    this.s1 = x;
    return (this.s0 + this.s1) >>> 0;
  }
  int(n: number): number { return this.u32() % n; }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]; }
  chance(p: number): boolean { return this.u32() / 4294967296 < p; }
}

export interface DiffCase {
  index: number;
  ring3: boolean;
  paging: boolean;
  wp: boolean;
  regs: number[]; // eax ecx edx ebx esp ebp esi edi
  eflags: number;
  seed: number;
  code: string[];
  /** EFLAGS bits not compared (undefined and TB-dependent in QEMU). */
  flagMask: number;
}

const R32 = ['eax', 'ecx', 'edx', 'ebx', 'esi', 'edi', 'ebp'];
const R16 = ['ax', 'cx', 'dx', 'bx', 'si', 'di', 'bp'];
const R8 = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
const SHIFTS = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sar', 'sal'];
const CONDS = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
const SELECTORS = [0, 3, 0x08, 0x0b, 0x10, 0x13, 0x18, 0x1b, 0x20, 0x23, 0x28, 0x30, 0x38, 0x3b, 0x40, 0x48, 0x50, 0x58, 0x5b, 0x60, 0x63, 0x68, 0x70, 0x72, 0x78, 0x0c, 0x14, 0xfff8];
/** Selectors loaded into DS/ES: flat read/write ones, or ones whose load faults. */
const DS_SELECTORS = [0x10, 0x13, 0x20, 0x23, 0x72, 0x48, 0x40, 0xfff8, 0x28, 0x0c, 0x14];
/** Selectors loaded into FS/GS before a read at offset 0x81..0xfb (inside every such segment). */
const FS_SELECTORS = [0x10, 0x13, 0x20, 0x23, 0x30, 0x38, 0x3b, 0x50, 0x58, 0x5b, 0x60, 0x63, 0x68, 0x72, 0x08, 0x18, 0x1b, 0x40, 0x48, 0x28, 0xfff8, 0x0c];
const OF = 0x800, SF = 0x80, AF = 0x10, PF = 0x4, CF = 0x1;

const hex = (v: number): string => '0x' + (v >>> 0).toString(16);

function interesting(rng: Rng, size: number): number {
  const mask = size === 32 ? 0xffffffff : size === 16 ? 0xffff : 0xff;
  const special = [0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 0x10, 0x0f, 9, 0x99, 0x100];
  const v = rng.chance(0.5) ? rng.pick(special) : rng.u32();
  return (v & mask) >>> 0;
}

class Sequence {
  readonly lines: string[] = [];
  flagMask = 0;
  undefinedNow = 0;
  stackDepth = 0;
  label = 0;
  constructor(readonly rng: Rng, readonly ring3: boolean, readonly paging: boolean, readonly caseIndex: number) {}

  emit(...ls: string[]): void { this.lines.push(...ls); }
  local(): string { return `.Lc${this.caseIndex}_${this.label++}`; }

  /** A memory operand of `size` bytes inside the scratch page (or, with paging, the special pages). */
  mem(size: number, mayFault = true): string {
    const rng = this.rng;
    let base = SCRATCH;
    if (this.paging && mayFault && rng.chance(0.15)) base = SCRATCH + 0x1000 * (1 + rng.int(4));
    const off = rng.int(0xd00 - 8) & (rng.chance(0.7) ? ~(size - 1) : ~0);
    const mode = rng.int(10);
    if (mode < 5) return hex(base + off);
    const r = rng.pick(R32);
    if (mode < 8) {
      const disp = rng.int(0x80) - 0x40;
      this.emit(`movl $${hex(base + off - disp)}, %${r}`);
      return `${disp}(%${r})`;
    }
    const idx = rng.pick(R32.filter((x) => x !== r));
    const scale = rng.pick([1, 2, 4, 8]);
    const i = rng.int(16);
    this.emit(`movl $${hex(base + off - i * scale)}, %${r}`, `movl $${i}, %${idx}`);
    return `(%${r},%${idx},${scale})`;
  }

  reg(size: number): string {
    return size === 32 ? this.rng.pick(R32) : size === 16 ? this.rng.pick(R16) : this.rng.pick(R8);
  }
  suffix(size: number): string { return size === 32 ? 'l' : size === 16 ? 'w' : 'b'; }
  size(): number { return this.rng.pick([8, 16, 32, 32, 32]); }

  /** Marks flags undefined (after bt*) or defined again (after a full flag writer). */
  flags(defined: boolean, undefinedBits = 0): void {
    if (defined) this.undefinedNow = 0;
    if (undefinedBits) { this.undefinedNow |= undefinedBits; this.flagMask |= undefinedBits; }
  }

  step(): void {
    const rng = this.rng;
    // Instructions that read flags are not generated while some flags are undefined.
    const readsOk = this.undefinedNow === 0;
    const k = rng.int(100);
    const sz = this.size();
    const s = this.suffix(sz);
    if (k < 22) {
      const op = rng.pick(ALU);
      if ((op === 'adc' || op === 'sbb') && !readsOk) return this.step();
      const form = rng.int(5);
      if (form === 0) this.emit(`${op}${s} %${this.reg(sz)}, %${this.reg(sz)}`);
      else if (form === 1) this.emit(`${op}${s} $${hex(interesting(rng, sz))}, %${this.reg(sz)}`);
      else if (form === 2) { const m = this.mem(sz / 8); this.emit(`${op}${s} ${m}, %${this.reg(sz)}`); }
      else if (form === 3) { const m = this.mem(sz / 8); this.emit(`${op === "cmp" ? "" : this.lockPrefix()}${op}${s} %${this.reg(sz)}, ${m}`); }
      else { const m = this.mem(sz / 8); this.emit(`${op === "cmp" ? "" : this.lockPrefix()}${op}${s} $${hex(sz === 8 ? interesting(rng, 8) : rng.chance(0.5) ? (rng.int(256) - 128) & 0xffffffff : interesting(rng, sz))}, ${m}`); }
      this.flags(true);
      return;
    }
    if (k < 27) {
      const op = rng.pick(['inc', 'dec', 'neg', 'not']);
      const target = rng.chance(0.6) ? `%${this.reg(sz)}` : this.mem(sz / 8);
      this.emit(`${op}${s} ${target}`);
      if (op !== 'not') this.flags(true);
      return;
    }
    if (k < 30) {
      const target = rng.chance(0.6) ? `%${this.reg(sz)}` : this.mem(sz / 8);
      this.emit(`test${s} ${rng.chance(0.5) ? `$${hex(interesting(rng, sz))}` : `%${this.reg(sz)}`}, ${target}`);
      this.flags(true);
      return;
    }
    if (k < 38) {
      const op = rng.pick(SHIFTS);
      if ((op === 'rcl' || op === 'rcr') && !readsOk) return this.step();
      // QEMU updates CF/OF of rcl/rcr before the store, so a faulting store leaks them: no fault there.
      const target = rng.chance(0.6) ? `%${this.reg(sz)}` : this.mem(sz / 8, op !== 'rcl' && op !== 'rcr');
      const form = rng.int(3);
      if (form === 0) this.emit(`${op}${s} ${target}`);
      else if (form === 1) this.emit(`${op}${s} $${rng.chance(0.8) ? rng.int(32) : rng.int(256)}, ${target}`);
      else { this.emit(`movb $${rng.chance(0.8) ? rng.int(33) : rng.int(256)}, %cl`); this.emit(`${op}${s} %cl, ${target}`); }
      // A zero count leaves the flags alone; rotates define only CF/OF: keep the state as it was.
      return;
    }
    if (k < 41) {
      const w = rng.chance(0.5) ? 16 : 32;
      const ws = this.suffix(w);
      const op = rng.pick(['shld', 'shrd']);
      const target = rng.chance(0.6) ? `%${this.reg(w)}` : this.mem(w / 8);
      if (rng.chance(0.5)) this.emit(`${op}${ws} $${rng.int(32)}, %${this.reg(w)}, ${target}`);
      else { this.emit(`movb $${rng.int(40)}, %cl`); this.emit(`${op}${ws} %cl, %${this.reg(w)}, ${target}`); }
      return;
    }
    if (k < 47) {
      let form = rng.int(6);
      if ((form === 2 || form === 3) && sz === 8) form += 2; // no byte forms of the 2/3-operand imul
      const src = rng.chance(0.6) ? `%${this.reg(sz)}` : this.mem(sz / 8);
      if (form === 0) this.emit(`mul${s} ${src}`);
      else if (form === 1) this.emit(`imul${s} ${src}`);
      else if (form === 2) this.emit(`imul${s} ${src}, %${this.reg(sz)}`);
      else if (form === 3) this.emit(`imul${s} $${hex(interesting(rng, sz))}, ${src}, %${this.reg(sz)}`);
      else if (form === 4) this.emit(`div${s} ${src}`);
      else this.emit(`idiv${s} ${src}`);
      // Multiplications define the flags (as QEMU computes them); divisions leave them as they were.
      if (form <= 3) this.flags(true);
      return;
    }
    if (k < 53) {
      const form = rng.int(6);
      if (form === 0) this.emit(`mov${s} ${this.mem(sz / 8)}, %${this.reg(sz)}`);
      else if (form === 1) this.emit(`mov${s} %${this.reg(sz)}, ${this.mem(sz / 8)}`);
      else if (form === 2) this.emit(`mov${s} $${hex(interesting(rng, sz))}, ${rng.chance(0.5) ? '%' + this.reg(sz) : this.mem(sz / 8)}`);
      else if (form === 3) this.emit(`${rng.pick(['movzb', 'movsb'])}${rng.pick(['w', 'l'])} ${rng.chance(0.5) ? '%' + this.reg(8) : this.mem(1)}, %${this.reg(32)}`.replace(/(movzb|movsb)w (.*), %(e)(\w+)/, '$1w $2, %$4'));
      else if (form === 4) this.emit(`${rng.pick(['movzwl', 'movswl'])} ${rng.chance(0.5) ? '%' + this.reg(16) : this.mem(2)}, %${this.reg(32)}`);
      else this.emit(`xchg${s} %${this.reg(sz)}, ${rng.chance(0.5) ? '%' + this.reg(sz) : this.mem(sz / 8)}`);
      return;
    }
    if (k < 57) {
      const form = rng.int(5);
      if (form === 0) { this.emit(`cmpxchg${s} %${this.reg(sz)}, ${rng.chance(0.5) ? '%' + this.reg(sz) : this.mem(sz / 8)}`); this.flags(true); }
      else if (form === 1) { const d = rng.chance(0.5) ? '%' + this.reg(sz) : this.mem(sz / 8); this.emit(`${d.startsWith('%') ? '' : this.lockPrefix()}xadd${s} %${this.reg(sz)}, ${d}`); this.flags(true); }
      else if (form === 2) this.emit(`bswap %${this.reg(32)}`);
      else if (form === 3) this.emit(`leal ${this.mem(4)}, %${this.reg(32)}`);
      else {
        // QEMU 7.2 leaves the arithmetic flags other than ZF wrong after cmpxchg8b (it keeps its lazy
        // flag source unconverted); the SDM says they are unchanged, which is what this CPU does.
        // QEMU's EFLAGS image then holds garbage (even outside the arithmetic bits): ZF is captured
        // with setz and the flags are redefined at once.
        this.emit(`${this.lockPrefix()}cmpxchg8b ${this.mem(8)}`, `setz %${this.reg(8)}`, `cmpl %${this.reg(32)}, %${this.reg(32)}`);
      }
      return;
    }
    if (k < 62) {
      const op = rng.pick(['bt', 'bts', 'btr', 'btc']);
      const w = rng.chance(0.5) ? 16 : 32;
      const ws = this.suffix(w);
      const form = rng.int(3);
      if (form === 0) this.emit(`${op}${ws} $${rng.int(64)}, ${rng.chance(0.5) ? '%' + this.reg(w) : this.mem(w / 8)}`);
      else if (form === 1) this.emit(`${op}${ws} %${this.reg(w)}, %${this.reg(w)}`);
      else {
        // A register bit offset reaches any word: keep it inside the scratch page.
        const r = rng.pick(R32);
        this.emit(`movl $${rng.int(0x1000) - 0x400}, %${r}`);
        const m = `${hex(SCRATCH + 0x600)}`;
        this.emit(`${op}${ws} %${w === 16 ? R16[R32.indexOf(r)] : r}, ${m}`);
      }
      this.flags(false, OF | SF | AF | PF);
      return;
    }
    if (k < 65) {
      const w = rng.chance(0.5) ? 16 : 32;
      this.emit(`${rng.pick(['bsf', 'bsr'])}${this.suffix(w)} ${rng.chance(0.5) ? '%' + this.reg(w) : this.mem(w / 8)}, %${this.reg(w)}`);
      this.flags(true);
      return;
    }
    if (k < 71 && readsOk) {
      const cc = rng.pick(CONDS);
      const form = rng.int(4);
      // QEMU converts its lazy flags for setcc before the store and restores a stale flags state when
      // that store faults: setcc to memory targets pages that do not fault.
      if (form === 0) this.emit(`set${cc} ${rng.chance(0.5) ? '%' + this.reg(8) : this.mem(1, false)}`);
      else if (form === 1) { const w = rng.chance(0.5) ? 16 : 32; this.emit(`cmov${cc}${this.suffix(w)} ${rng.chance(0.5) ? '%' + this.reg(w) : this.mem(w / 8)}, %${this.reg(w)}`); }
      else if (form === 2) { const l = this.local(); this.emit(`j${cc} ${l}`); this.step(); this.emit(`${l}:`); }
      else {
        const l = this.local();
        this.emit(`${rng.pick(['loop', 'loope', 'loopne', 'jecxz'])} ${l}`);
        this.step();
        this.emit(`${l}:`);
      }
      return;
    }
    if (k < 75) {
      const op = rng.pick(['daa', 'das', 'aaa', 'aas', 'aam', 'aad', 'cbw', 'cwde', 'cwd', 'cdq', 'lahf', 'sahf', 'clc', 'stc', 'cmc', 'cld', 'std', 'salc', 'xlat']);
      if (!readsOk && ['daa', 'das', 'aaa', 'aas', 'lahf', 'cmc', 'salc'].includes(op)) return this.step();
      if (op === 'aam' || op === 'aad') { this.emit(`${op} $${rng.pick([10, 10, 16, 0, 7, 255])}`); this.flags(true); return; }
      if (op === 'salc') { this.emit('.byte 0xd6'); return; }
      if (op === 'xlat') { this.emit(`movl $${hex(SCRATCH + rng.int(0xc00))}, %ebx`, 'xlat'); return; }
      this.emit(op);
      if (op === 'daa' || op === 'das') this.flags(true);
      if (op === 'sahf') this.undefinedNow &= OF; // sahf leaves OF as it was
      return;
    }
    if (k < 80) {
      const form = rng.int(8);
      if (form === 0) { this.emit(`pushl $${hex(interesting(rng, 32))}`); this.stackDepth += 4; }
      else if (form === 1) { this.emit(`push${rng.pick(['l', 'w'])} %${this.reg(rng.pick([16, 32]))}`.replace(/pushl %(\w\w)$/, 'pushw %$1').replace(/pushw %(e\w\w)$/, 'pushl %$1')); this.stackDepth += 2; }
      else if (form === 2 && this.stackDepth >= 4) { this.emit(`popl %${this.reg(32)}`); this.stackDepth -= 4; }
      else if (form === 3) { this.emit(`pushl ${this.mem(4)}`); this.stackDepth += 4; }
      else if (form === 4 && this.stackDepth >= 4) { this.emit(`popl ${this.mem(4)}`); this.stackDepth -= 4; }
      else if (form === 5) { this.emit('pushal'); this.emit(rng.chance(0.7) ? 'popal' : 'addl $32, %esp'); }
      else if (form === 6) { const l = this.local(); this.emit(`call ${l}`, `${l}:`, `popl %${this.reg(32)}`); }
      else {
        this.emit(`movl $${hex(SCRATCH + 0xc00 + rng.int(0x100))}, %ebp`);
        this.emit(`enter $${rng.int(64)}, $${rng.int(4)}`, 'leave');
      }
      return;
    }
    if (k < 84) {
      // String instructions with small counts inside the scratch page.
      const op = rng.pick(['movs', 'stos', 'lods', 'cmps', 'scas']);
      const rep = rng.pick(['', 'rep ', 'repne ']);
      const count = rng.int(12);
      this.emit(`movl $${hex(SCRATCH + 0x100 + rng.int(0xa00))}, %esi`, `movl $${hex(SCRATCH + 0x100 + rng.int(0xa00))}, %edi`, `movl $${count}, %ecx`);
      if (rng.chance(0.3)) this.emit(rng.pick(['cld', 'std']));
      this.emit(`${rep === 'repne ' && (op === 'movs' || op === 'stos' || op === 'lods') ? 'rep ' : rep}${op}${s}`);
      // A repeated compare with a zero count compares nothing and leaves the flags alone.
      if ((op === 'cmps' || op === 'scas') && (rep === '' || count > 0)) this.flags(true);
      this.emit('cld');
      return;
    }
    if (k < 92) return this.system();
    if (k < 95 && readsOk) {
      if (rng.chance(0.5)) {
        this.emit(`pushl $${hex((interesting(rng, 32) & ~0x100) | 2)}`, 'popfl');
        this.flags(true);
      } else { this.emit('pushfl', `popl %${this.reg(32)}`); }
      return;
    }
    if (k < 97) {
      this.emit(rng.pick(['ud2', 'int3', readsOk ? 'into' : 'nop', 'int $0x40', 'int $0x41', 'int $0x42', 'int $0x80', '.byte 0x0f, 0xff', '.byte 0xf0, 0x01, 0xc0', '.byte 0x62, 0xc0']));
      return;
    }
    if (rng.chance(0.5)) return this.x87();
    {
      const r = this.reg(32);
      this.emit(`movl $${hex(rng.chance(0.5) ? 0x10000 + rng.int(0x10000) : interesting(rng, 32))}, %${r}`);
      this.emit(`movl $${hex(SCRATCH + 0x200)}, %${R32.filter((x) => x !== r)[0]}`);
      this.emit(`bound %${r}, (%${R32.filter((x) => x !== r)[0]})`);
    }
  }

  lockPrefix(): string { return this.rng.chance(0.15) ? 'lock ' : ''; }

  /**
   * x87 on small integers, results stored as integers (in every rounding mode) or compared: values this
   * FPU (doubles) and QEMU's (80-bit) round alike. The precision and rounding-indicator bits of the
   * status word (PE, C1) are masked off where it is stored, as this FPU does not track them.
   */
  x87(): void {
    const rng = this.rng;
    const a = SCRATCH + 0xd40 + 4 * rng.int(8);
    const b = SCRATCH + 0xd60 + 4 * rng.int(8);
    const out = SCRATCH + 0xd80 + 4 * rng.int(16);
    const val = (): number => (rng.chance(0.2) ? 0 : rng.int(2001) - 1000) >>> 0;
    this.emit('fninit', `movl $${hex(val())}, ${hex(a)}`, `movl $${hex(val())}, ${hex(b)}`, `fildl ${hex(a)}`, `fildl ${hex(b)}`);
    const k = rng.int(8);
    if (k < 6) {
      this.emit(['faddp', 'fsubp', 'fsubrp', 'fmulp', 'fdivp', 'fdivrp'][k] + ' %st, %st(1)');
      if (rng.chance(0.5)) this.emit(`movw $${hex(0x037f | (rng.int(4) << 10))}, ${hex(out + 0x40)}`, `fldcw ${hex(out + 0x40)}`);
      this.emit(`fistpl ${hex(out)}`);
    } else {
      this.emit(k === 6 ? 'fcompp' : 'fucompp', 'fnstsw %ax', 'andw $0x4500, %ax');
    }
  }

  /** Segment, descriptor-table and privileged instructions. */
  system(): void {
    const rng = this.rng;
    const sel = rng.pick(SELECTORS);
    const k = rng.int(14);
    switch (k) {
      case 0: case 1: {
        // QEMU (TCG) checks descriptors when a segment register is loaded but not limits or rights on
        // each access: accesses are generated only where every loadable selector allows them.
        if (rng.chance(0.4)) {
          const sreg = rng.pick(['es', 'ds']);
          this.emit(`movw $${hex(rng.pick(DS_SELECTORS))}, %ax`, `movw %ax, %${sreg}`);
          return;
        }
        const sreg = rng.pick(['fs', 'gs']);
        this.emit(`movw $${hex(rng.pick(FS_SELECTORS))}, %ax`, `movw %ax, %${sreg}`);
        if (rng.chance(0.7)) this.emit(`mov${rng.pick(['l', 'w', 'b'])} %${sreg}:${hex(0x81 + rng.int(0x7b))}, %${rng.pick(['ecx', 'cx', 'cl']).replace(/.*/, (r) => r)}`.replace(/movl (.*), %(cx|cl)$/, 'movl $1, %ecx').replace(/movw (.*), %(ecx|cl)$/, 'movw $1, %cx').replace(/movb (.*), %(ecx|cx)$/, 'movb $1, %cl'));
        return;
      }
      case 2: {
        const op = rng.pick(['lar', 'lsl']);
        this.emit(`movl $${hex(sel | (rng.u32() & 0xffff0000))}, %ecx`, `${op}l %cx, %${this.reg(32)}`);
        return;
      }
      case 3: this.emit(`movw $${hex(sel)}, %ax`, `${rng.pick(['verr', 'verw'])} %ax`); return;
      case 4: this.emit(`movw $${hex(sel)}, %ax`, `arpl %ax, ${rng.chance(0.5) ? '%' + this.reg(16) : this.mem(2)}`); return;
      case 5: this.emit(`${rng.pick(['sgdtl', 'sidtl'])} ${this.mem(6)}`); return;
      case 6: this.emit(`${rng.pick(['str', 'sldt', 'smsw'])} ${rng.chance(0.5) ? '%' + this.reg(rng.pick([16, 32])) : this.mem(2)}`); return;
      case 7: {
        const sreg = rng.pick(['fs', 'gs', 'es', 'ds']);
        if (rng.chance(0.5)) this.emit(`push${rng.pick(['l', 'w'])} %${sreg}`, `popl %${this.reg(32)}`);
        else this.emit(`movl %${sreg}, %${this.reg(32)}`, `movw %${sreg}, ${this.mem(2)}`);
        return;
      }
      case 8: {
        this.mem(6); // unused operand, kept so that a seed generates the same cases as before
        const op = rng.pick(['lfs', 'lgs', 'les', 'lds']);
        // Store a far pointer first (the address register may be used by the operand).
        const addr = hex(SCRATCH + 0xd00 + rng.int(0x40));
        const fsel = op === 'les' || op === 'lds' ? rng.pick(DS_SELECTORS) : sel;
        this.emit(`movl $${hex(interesting(rng, 32))}, ${addr}`, `movw $${hex(fsel)}, ${addr}+4`);
        this.emit(`${op} ${addr}, %${this.reg(32)}`);
        return;
      }
      case 9: {
        if (this.ring3) this.emit(rng.pick(['cli', 'sti', 'hlt', 'clts', 'inb $0x80, %al', 'outb %al, $0x80', 'lgdtl 0x200000', 'lidtl 0x200000', 'movl %cr0, %eax', 'movl %eax, %cr3', 'invlpg 0x200000', 'wbinvd', 'rdmsr', 'ltr %ax', 'lldt %ax', 'lmsw %ax']));
        else this.emit(rng.pick(['cli', 'sti', 'cli', 'movl %cr0, %eax', 'movl %cr2, %ecx', 'movl %cr3, %edx', 'movl %cr4, %esi']));
        return;
      }
      case 10: {
        // Privilege-checked segment reloads through the stack.
        this.emit(`pushl $${hex(sel)}`, `popl %${rng.pick(['fs', 'gs'])}`);
        return;
      }
      case 11: {
        // Far transfers to the next instruction through various selectors.
        const l = this.local();
        const target = rng.pick([this.ring3 ? 0x1b : 0x08, this.ring3 ? 0x1b : 0x08, sel === 0x28 ? 0x30 : sel]);
        this.emit(`ljmp $${hex(target)}, $${l}`, `${l}:`);
        return;
      }
      case 12: {
        const l = this.local();
        const l2 = this.local();
        const target = rng.pick([this.ring3 ? 0x1b : 0x08, sel === 0x28 ? 0x30 : sel]);
        this.emit(`lcall $${hex(target)}, $${l}`, `jmp ${l2}`, `${l}:`, 'lret', `${l2}:`);
        return;
      }
      default: {
        // Write to the read-only / supervisor pages (faults with paging), with and without CR0.WP.
        this.emit(`movl %eax, ${hex(SCRATCH + 0x1000 * (1 + rng.int(4)) + rng.int(0x100) * 4)}`);
      }
    }
  }
}

/** Generates `count` cases starting at case number `first` (each case depends only on seed and its number). */
export function generateCases(seed: number, first: number, count: number): DiffCase[] {
  const out: DiffCase[] = [];
  for (let index = first; index < first + count; index++) {
    const rng = new Rng((seed * 1000003 + index) | 0);
    const ring3 = rng.chance(0.25);
    const paging = rng.chance(0.35);
    const wp = paging && rng.chance(0.5);
    const seq = new Sequence(rng, ring3, paging, index);
    const n = 4 + rng.int(14);
    for (let i = 0; i < n; i++) seq.step();
    const regs = R32.map(() => interesting(rng, 32));
    // eax ecx edx ebx esp ebp esi edi
    const init = [regs[0], regs[1], regs[2], regs[3], STACK_TOP, regs[6], regs[4], regs[5]];
    const eflags = ((rng.u32() & 0x8d5) | 0x2 | (rng.chance(0.2) ? 0x400 : 0)) >>> 0;
    out.push({ index, ring3, paging, wp, regs: init, eflags, seed: (rng.u32() | 1) >>> 0, code: seq.lines, flagMask: seq.flagMask });
  }
  return out;
}

/** cases.S for the harness: the case table and the code of each case. */
export function casesAssembly(cases: DiffCase[]): string {
  const lines: string[] = ['\t.data', '\t.align 4', '\t.globl case_count, case_table', `case_count: .long ${cases.length}`, 'case_table:'];
  for (const c of cases) {
    const flags = (c.ring3 ? 1 : 0) | (c.paging ? 2 : 0) | (c.wp ? 4 : 0);
    const r = c.regs;
    lines.push(`\t.long case_${c.index}, ${[r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], c.eflags, c.seed, flags].map(hex).join(', ')}`);
  }
  lines.push('\t.text');
  for (const c of cases) {
    lines.push(`case_${c.index}:`);
    for (const l of c.code) lines.push(l.endsWith(':') ? l : `\t${l}`);
    lines.push('\tint $0x81');
  }
  return lines.join('\n') + '\n';
}

export const RESULT_FIELDS = ['vector', 'error', 'eip', 'cs', 'eflags', 'esp', 'eax', 'ecx', 'edx', 'ebx', 'ebp', 'esi', 'edi',
  'ds', 'es', 'fs', 'gs', 'cr2', 'hash', 'hash2', 'pte0', 'pte2', 'pte3', 'pte4'];

export interface CaseResult { index: number; words: number[] }

/** Parses the harness's output lines ("index word word ..."). */
export function parseResults(text: string): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const line of text.split('\n')) {
    const parts = line.trim().split(' ');
    if (parts.length !== RESULT_FIELDS.length + 1 || !/^[0-9a-f]{8}$/.test(parts[0])) continue;
    out.set(parseInt(parts[0], 16), parts.slice(1).map((p) => parseInt(p, 16)));
  }
  return out;
}

export interface Mismatch { index: number; fields: { name: string; reference: number; ours: number }[] }

/** Compares our results with the reference's; flags in a case's mask are not compared. */
export function compareResults(cases: DiffCase[], reference: Map<number, number[]>, ours: Map<number, number[]>): Mismatch[] {
  const out: Mismatch[] = [];
  // The harness numbers the cases of one kernel from 0.
  for (const [pos, c] of cases.entries()) {
    const a = reference.get(pos);
    const b = ours.get(pos);
    if (!a || !b) {
      out.push({ index: c.index, fields: [{ name: a ? 'missing-ours' : 'missing-reference', reference: a ? 1 : 0, ours: b ? 1 : 0 }] });
      continue;
    }
    const fields: Mismatch['fields'] = [];
    RESULT_FIELDS.forEach((name, i) => {
      let x = a[i], y = b[i];
      if (name === 'eflags') { x &= ~c.flagMask; y &= ~c.flagMask; }
      // The hashes cover the stack, where the trap frame holds EFLAGS: compare them only without a mask.
      if ((name === 'hash') && c.flagMask && x !== y) return;
      if (x !== y) fields.push({ name, reference: a[i], ours: b[i] });
    });
    if (fields.length) out.push({ index: c.index, fields });
  }
  return out;
}
