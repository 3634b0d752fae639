// The x86 opcode tables, as data: one entry per opcode (or per ModRM/prefix/mode variant), written in
// the operand notation of the Intel SDM opcode maps (E = ModRM r/m, G = ModRM reg, I = immediate,
// J = relative branch, b/w/d/q/v = size). The decoder (decoder.ts) walks these tables; instruction
// lengths, AT&T text and sensitive classes all come from here, and the sensitive class of an entry is
// named after the catalogue (catalogue.ts) rather than listed a second time.
//
// Entry syntax: "template Op,Op,...#flag#flag". The template is the AT&T mnemonic with size-suffix
// macros in the style GNU objdump prints them (an upper-case letter is a macro: B/S/Q/A/P/R/W/T/...;
// "{att|intel}" alternatives; "%L?" two-letter macros). Flags: opc / data / ign (mandatory-prefix
// rules), s=<catalogue name>, g=<group>.
//
// Switch nodes: { reg: [...8] } (ModRM.reg), { mod: [memory, register] }, { rm: [...8] } (ModRM.rm
// when mod=3), { pfx: [none, f3, 66, f2] }, { m64: [16/32-bit, 64-bit] }.

export type RawEntry = string | null | RawSwitch;
export interface RawSwitch {
  reg?: RawEntry[];
  mod?: RawEntry[];
  rm?: RawEntry[];
  pfx?: RawEntry[];
  m64?: RawEntry[];
  special?: 'float' | '0f38' | '0f3a' | 'vexc4' | 'vexc5' | 'evex' | 'xop' | '3dnow';
}

const R = (reg: RawEntry[]): RawSwitch => ({ reg });
const MOD = (mem: RawEntry, reg: RawEntry): RawSwitch => ({ mod: [mem, reg] });
const RM = (rm: RawEntry[]): RawSwitch => ({ rm });
const PFX = (none: RawEntry, f3: RawEntry = null, p66: RawEntry = null, f2: RawEntry = null): RawSwitch => ({ pfx: [none, f3, p66, f2] });
const M64 = (legacy: RawEntry, long: RawEntry = null): RawSwitch => ({ m64: [legacy, long] });

const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
const SHIFT = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'shl', 'sar'];
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
const REG16 = ['AX', 'CX', 'DX', 'BX', 'SP', 'BP', 'SI', 'DI'];
const REG8 = ['AL', 'CL', 'DL', 'BL', 'AH', 'CH', 'DH', 'BH'];

function aluBlock(name: string): RawEntry[] {
  const hle = name === 'cmp' ? '' : 'h1';
  return [`${name}B Eb${hle},Gb`, `${name}S Ev${hle},Gv`, `${name}B Gb,EbS`, `${name}S Gv,EvS`, `${name}B AL,Ib`, `${name}S eAX,Iv`];
}

const group1 = (imm: string, sfx: string, hb: string): RawSwitch =>
  R(ALU.map((n) => `${n}${sfx} ${n === 'cmp' ? hb.replace('h1', '') : hb},${imm}`));
const shiftGroup = (e: string, sfx: string, src: string): RawSwitch => R(SHIFT.map((n) => `${n}${sfx} ${e},${src}`));

// ---------------------------------------------------------------------------------------------
// The one-byte map.
export const ONE_BYTE: RawEntry[] = new Array<RawEntry>(256).fill(null);
for (let i = 0; i < 8; i++) {
  const base = i * 8;
  aluBlock(ALU[i]!).forEach((e, j) => { ONE_BYTE[base + j] = e; });
}
Object.assign(ONE_BYTE, {
  0x06: M64('pushP es#s=push-segment'), 0x07: M64('popP es#s=pop-segment'),
  0x0e: M64('pushP cs#s=push-segment'), 0x0f: null,
  0x16: M64('pushP ss#s=push-segment'), 0x17: M64('popP ss#s=pop-segment'),
  0x1e: M64('pushP ds#s=push-segment'), 0x1f: M64('popP ds#s=pop-segment'),
  0x26: null, 0x27: M64('daa'), 0x2e: null, 0x2f: M64('das'),
  0x36: null, 0x37: M64('aaa'), 0x3e: null, 0x3f: M64('aas'),
  0x60: M64('pushaP'), 0x61: M64('popaP'),
  0x62: M64(MOD('bound{S|} Gv,Ma', { special: 'evex' }), { special: 'evex' }),
  0x63: M64('arpl Ew,Gw#s=arpl', 'movs Gv,MOVSXD'),
  0x64: null, 0x65: null, 0x66: null, 0x67: null,
  0x68: 'pushP sIv', 0x69: 'imulS Gv,Ev,Iv', 0x6a: 'pushP sIbT', 0x6b: 'imulS Gv,Ev,sIb',
  0x6c: 'ins{b|} Ybr,indirDX#s=ins', 0x6d: M64('ins{R|} Yzr,indirDX#s=ins', 'ins{G|} Yzr,indirDX#s=ins'),
  0x6e: 'outs{b|} indirDXr,Xb#s=outs', 0x6f: M64('outs{R|} indirDXr,Xz#s=outs', 'outs{G|} indirDXr,Xz#s=outs'),
  0x80: group1('Ib', 'A', 'Ebh1'), 0x81: group1('Iv', 'Q', 'Evh1'), 0x82: M64(group1('Ib', 'A', 'Ebh1')),
  0x83: group1('sIb', 'Q', 'Evh1'),
  0x84: 'testB Eb,Gb', 0x85: 'testS Ev,Gv', 0x86: 'xchgB Ebh2,Gb', 0x87: 'xchgS Evh2,Gv',
  0x88: 'movB Ebh3,Gb', 0x89: 'movS Evh3,Gv', 0x8a: 'movB Gb,EbS', 0x8b: 'movS Gv,EvS',
  0x8c: 'movD Sv,Sw#s=mov-from-segment', 0x8d: MOD('leaS Gv,M', null), 0x8e: 'movD Sw,Sv#s=mov-to-segment',
  0x8f: R(['pop{P|} stackEv', { special: 'xop' }, null, null, null, { special: 'xop' }, null, null]),
  0x90: PFX('xchgS NOP0,NOP1', 'pause', 'xchgS NOP0,NOP1', '@none'),
  0x98: 'cW{t|}R', 0x99: 'cR{t|}O', 0x9a: M64('{l|}call{P|} Ap#s=lcall'), 0x9b: null,
  0x9c: 'pushfP#s=pushf', 0x9d: 'popfP#s=popf', 0x9e: 'sahf', 0x9f: 'lahf',
  0xa0: 'mov%LB AL,Ob', 0xa1: 'mov%LS eAX,Ov', 0xa2: 'mov%LB Ob,AL', 0xa3: 'mov%LS Ov,eAX',
  0xa4: 'movs{b|} Ybr,Xb', 0xa5: 'movs{R|} Yvr,Xv', 0xa6: 'cmps{b|} Xb,Yb', 0xa7: 'cmps{R|} Xv,Yv',
  0xa8: 'testB AL,Ib', 0xa9: 'testS eAX,Iv', 0xaa: 'stosB Ybr,AL', 0xab: 'stosS Yvr,eAX',
  0xac: 'lodsB ALr,Xb', 0xad: 'lodsS eAXr,Xv', 0xae: 'scasB AL,Yb', 0xaf: 'scasS eAX,Yv',
  0xc0: shiftGroup('Eb', 'A', 'Ib'), 0xc1: shiftGroup('Ev', 'Q', 'Ib'),
  0xc2: M64('retP Iw,BND', 'ret@ Iw,BND'), 0xc3: M64('retP BND', 'ret@ BND'),
  0xc4: M64(MOD('lesS Gv,Mp#s=load-far-pointer', { special: 'vexc4' }), { special: 'vexc4' }),
  0xc5: M64(MOD('ldsS Gv,Mp#s=load-far-pointer', { special: 'vexc5' }), { special: 'vexc5' }),
  0xc6: R(['movA Ebh3,Ib', null, null, null, null, null, null, MOD(null, RM(['xabort Skip,Ib', null, null, null, null, null, null, null]))]),
  0xc7: R(['movQ Evh3,Iv', null, null, null, null, null, null, MOD(null, RM(['xbeginT Skip,Jdqw', null, null, null, null, null, null, null]))]),
  0xc8: 'enterP Iw,Ib', 0xc9: 'leaveP', 0xca: '{l|}ret{|f}%LP Iw#s=lret', 0xcb: '{l|}ret{|f}%LP#s=lret',
  0xcc: 'int3#s=int3', 0xcd: 'int Ib#s=int', 0xce: M64('into#s=into'), 0xcf: 'iret%LP#s=iret',
  0xd0: shiftGroup('Eb', 'A', 'I1'), 0xd1: shiftGroup('Ev', 'Q', 'I1'),
  0xd2: shiftGroup('Eb', 'A', 'CL'), 0xd3: shiftGroup('Ev', 'Q', 'CL'),
  0xd4: M64('aam Ib'), 0xd5: M64('aad Ib'), 0xd6: null, 0xd7: 'xlat DSBX',
  0xe0: 'loopneFH Jb', 0xe1: 'loopeFH Jb', 0xe2: 'loopFH Jb', 0xe3: 'jEcxzH Jb',
  0xe4: 'inB AL,Ib#s=in', 0xe5: 'inG zAX,Ib#s=in', 0xe6: 'outB Ib,AL#s=out', 0xe7: 'outG Ib,zAX#s=out',
  0xe8: M64('callP Jv,BND', 'call@ Jv,BND'), 0xe9: M64('jmpP Jv,BND', 'jmp@ Jv,BND'),
  0xea: M64('{l|}jmp{P|} Ap#s=ljmp'), 0xeb: 'jmp Jb,BND',
  0xec: 'inB AL,indirDX#s=in', 0xed: 'inG zAX,indirDX#s=in', 0xee: 'outB indirDX,AL#s=out', 0xef: 'outG indirDX,zAX#s=out',
  0xf0: null, 0xf1: 'int1', 0xf2: null, 0xf3: null, 0xf4: 'hlt#s=hlt', 0xf5: 'cmc',
  0xf6: R(['testA Eb,Ib', 'testA Eb,Ib', 'notA Ebh1', 'negA Ebh1', 'mulA Eb', 'imulA Eb', 'divA Eb', 'idivA Eb']),
  0xf7: R(['testQ Ev,Iv', 'testQ Ev,Iv', 'notQ Evh1', 'negQ Evh1', 'mulQ Ev', 'imulQ Ev', 'divQ Ev', 'idivQ Ev']),
  0xf8: 'clc', 0xf9: 'stc', 0xfa: 'cli#s=cli', 0xfb: 'sti#s=sti', 0xfc: 'cld', 0xfd: 'std',
  0xfe: R(['incA Ebh1', 'decA Ebh1', null, null, null, null, null, null]),
  0xff: R(['incQ Evh1', 'decQ Evh1', 'call{@|} NOTRACK,indirEv,BND', MOD('{l|}call^ indirEp#s=lcall', null),
    'jmp{@|} NOTRACK,indirEv,BND', MOD('{l|}jmp^ indirEp#s=ljmp', null), 'push{P|} stackEv', null]),
});
for (let r = 0; r < 8; r++) {
  ONE_BYTE[0x40 + r] = M64(`inc{S|} RMe${REG16[r]}`, null);
  ONE_BYTE[0x48 + r] = M64(`dec{S|} RMe${REG16[r]}`, null);
  ONE_BYTE[0x50 + r] = `push{!P|} RMr${REG16[r]}`;
  ONE_BYTE[0x58 + r] = `pop{!P|} RMr${REG16[r]}`;
  if (r > 0) ONE_BYTE[0x90 + r] = `xchgS RMe${REG16[r]},eAX`;
  ONE_BYTE[0xb0 + r] = `movB RM${REG8[r]},Ib`;
  ONE_BYTE[0xb8 + r] = `mov%LV RMe${REG16[r]},Iv64`;
}
for (let c = 0; c < 16; c++) ONE_BYTE[0x70 + c] = `j${CC[c]}H Jb,BND`;
for (let f = 0xd8; f <= 0xdf; f++) ONE_BYTE[f] = { special: 'float' };
// 0x40-0x4f are REX prefixes in 64-bit mode and never reach the table there.

/** Opcode bytes whose instruction has a ModRM byte (one-byte map). */
export const ONE_BYTE_HAS_MODRM = bits(`
1111000011110000 1111000011110000 1111000011110000 1111000011110000
0000000000000000 0000000000000000 0011000001010000 0000000000000000
1111111111111111 0000000000000000 0000000000000000 0000000000000000
1100111100000000 1111000011111111 0000000000000000 0000001100000011`);

// ---------------------------------------------------------------------------------------------
// The two-byte map (0F xx): general-purpose and system instructions in full; SSE/MMX as a few named
// families (their length rules are the same as the general ones: ModRM, plus an imm8 where noted).
export const TWO_BYTE: RawEntry[] = new Array<RawEntry>(256).fill(null);
const nopEv = 'nopQ Ev';
Object.assign(TWO_BYTE, {
  0x00: R(['sldtD Sv#s=sldt', 'strD Sv#s=str', 'lldt Ew#s=lldt', 'ltr Ew#s=ltr', 'verr Ew#s=verr', 'verw Ew#s=verw', null, null]),
  0x01: R([
    MOD(M64('sgdt{Q|Q} M#s=sgdt', 'sgdt M#s=sgdt'), RM(['enclv Skip', 'vmcall Skip', 'vmlaunch Skip', 'vmresume Skip', 'vmxoff Skip', 'pconfig Skip',
      PFX('wrmsrns Skip', M64(null, 'wrmsrlist Skip'), null, M64(null, 'rdmsrlist Skip')), null])),
    MOD(M64('sidt{Q|Q} M#s=sidt', 'sidt M#s=sidt'), RM(['monitor MONITOR', 'mwait MWAIT', 'clac Skip', 'stac Skip',
      PFX(null, null, 'tdcall Skip'), PFX(null, null, M64(null, 'seamret Skip')), PFX(null, null, M64(null, 'seamops Skip')),
      PFX('encls Skip', null, M64(null, 'seamcall Skip'))])),
    MOD(M64('lgdt{Q|Q} M#s=lgdt', 'lgdt M#s=lgdt'), RM(['xgetbv Skip', 'xsetbv Skip', null, null, 'vmfunc Skip', 'xend Skip', 'xtest Skip', 'enclu Skip'])),
    MOD(M64('lidt{Q|Q} M#s=lidt', 'lidt M#s=lidt'), RM(['vmrun Skip', PFX('vmmcall Skip', 'vmgexit Skip', null, 'vmgexit Skip'), 'vmload Skip', 'vmsave Skip', 'stgi Skip', 'clgi Skip', 'skinit Skip', 'invlpga Skip'])),
    'smswD Sv#s=smsw',
    MOD(PFX(null, 'rstorssp Mq#opc'), RM([
      PFX('serialize Skip#opc', 'setssbsy Skip#opc', null, 'xsusldtrk Skip#opc'), PFX(null, null, null, 'xresldtrk Skip#opc'),
      PFX(null, 'saveprevssp Skip#opc'), null, PFX(null, M64(null, 'uiret Skip')), PFX(null, M64(null, 'testui Skip')),
      PFX('rdpkru Skip', M64(null, 'clui Skip')), PFX('wrpkru Skip', M64(null, 'stui Skip'))])),
    'lmsw Ew#s=lmsw',
    MOD('invlpg Mb#s=invlpg', RM(['swapgs Skip#s=swapgs', 'rdtscp Skip#s=rdtscp', PFX('monitorx MONITOR', 'mcommit Skip'), 'mwaitx MWAITX#opc', 'clzero Skip',
      PFX('rdpru Skip', M64(null, 'rmpquery Skip')), PFX('invlpgb Skip', M64(null, 'rmpadjust Skip'), null, M64(null, 'rmpupdate Skip')),
      PFX('tlbsync Skip', M64(null, 'psmash Skip'), null, 'pvalidate Skip')])),
  ]),
  0x02: MOD('larS Gv,Mw#s=lar', 'larS Gv,Ev#s=lar'), 0x03: MOD('lslS Gv,Mw#s=lsl', 'lslS Gv,Ev#s=lsl'),
  0x05: 'syscall#s=syscall', 0x06: 'clts#s=clts', 0x07: 'sysret%LQ#s=sysret',
  0x08: 'invd#s=invd', 0x09: PFX('wbinvd#s=wbinvd', 'wbnoinvd'), 0x0b: 'ud2#s=ud2',
  0x0d: R(['prefetch Mb', 'prefetchw Mb', 'prefetchwt1 Mb', 'prefetch Mb', 'prefetch Mb', 'prefetch Mb', 'prefetch Mb', 'prefetch Mb']),
  0x0e: 'femms#g=mmx', 0x0f: { special: '3dnow' },
  0x18: R([MOD('prefetchnta Mb', nopEv), MOD('prefetcht0 Mb', nopEv), MOD('prefetcht1 Mb', nopEv), MOD('prefetcht2 Mb', nopEv),
    nopEv, nopEv, MOD(M64(nopEv, PFX('prefetchit1 PREFETCHI', nopEv, nopEv, nopEv)), nopEv), MOD(M64(nopEv, PFX('prefetchit0 PREFETCHI', nopEv, nopEv, nopEv)), nopEv)]),
  0x19: nopEv,
  0x1a: PFX(MOD('bndldx Gbnd,Mv_bnd', nopEv), 'bndcl Gbnd,Ev_bnd', 'bndmov Gbnd,EbndS', 'bndcu Gbnd,Ev_bnd'),
  0x1b: PFX(MOD('bndstx Mv_bnd,Gbnd', nopEv), MOD('bndmk Gbnd,Mv_bnd', 'nopQ Ev#ign'), 'bndmov EbndS,Gbnd', 'bndcn Gbnd,Ev_bnd'),
  0x1c: PFX(MOD(R(['cldemote Mb', nopEv, nopEv, nopEv, nopEv, nopEv, nopEv, nopEv]), nopEv), 'nopQ Ev#ign', nopEv, 'nopQ Ev#ign'),
  0x1d: nopEv,
  0x1e: PFX(nopEv, MOD('nopQ Ev#ign', R(['nopQ Ev#ign', 'rdsspK Edq', 'nopQ Ev#ign', 'nopQ Ev#ign', 'nopQ Ev#ign', 'nopQ Ev#ign', 'nopQ Ev#ign',
    RM(['nopQ Ev#ign', 'nopQ Ev#ign', 'endbr64 Skip', 'endbr32 Skip', 'nopQ Ev#ign', 'nopQ Ev#ign', 'nopQ Ev#ign', 'nopQ Ev#ign'])])), nopEv, '@none'),
  0x1f: nopEv,
  0x20: 'movZ Em,Cm#s=mov-from-cr', 0x21: 'movZ Em,Dm#s=mov-from-dr', 0x22: 'movZ Cm,Em#s=mov-to-cr', 0x23: 'movZ Dm,Em#s=mov-to-dr',
  0x24: M64('movZ Em,Td'), 0x26: M64('movZ Td,Em'),
  0x30: 'wrmsr#s=wrmsr', 0x31: 'rdtsc#s=rdtsc', 0x32: 'rdmsr#s=rdmsr', 0x33: 'rdpmc#s=rdpmc',
  0x34: 'sysenter SEP#s=sysenter', 0x35: 'sysexit%LQ SEP#s=sysexit', 0x37: 'getsec',
  0x38: { special: '0f38' }, 0x3a: { special: '0f3a' },
  0xa0: 'pushP fs#s=push-segment', 0xa1: 'popP fs#s=pop-segment', 0xa2: 'cpuid#s=cpuid', 0xa3: 'btS Ev,Gv',
  0xa4: 'shldS Ev,Gv,Ib', 0xa5: 'shldS Ev,Gv,CL',
  0xa6: R(['montmul OP0f07', 'xsha1 OP0f07', 'xsha256 OP0f07', null, null, null, null, null]),
  0xa7: R(['xstore-rng OP0f07', 'xcrypt-ecb OP0f07', 'xcrypt-cbc OP0f07', 'xcrypt-ctr OP0f07', 'xcrypt-cfb OP0f07', 'xcrypt-ofb OP0f07', null, null]),
  0xa8: 'pushP gs#s=push-segment', 0xa9: 'popP gs#s=pop-segment', 0xaa: 'rsm', 0xab: 'btsS Evh1,Gv',
  0xac: 'shrdS Ev,Gv,Ib', 0xad: 'shrdS Ev,Gv,CL',
  0xae: R([
    MOD('fxsave FXSAVE', PFX(null, 'rdfsbase Ev')), MOD('fxrstor FXSAVE', PFX(null, 'rdgsbase Ev')),
    MOD('ldmxcsr Md', PFX(null, 'wrfsbase Ev')), MOD('stmxcsr Md', PFX(null, 'wrgsbase Ev')),
    MOD(PFX('xsave FXSAVE', 'ptwrite{%LQ|} Edq'), PFX(null, 'ptwrite{%LQ|} Edq')),
    MOD('xrstor FXSAVE#opc', PFX('lfence Skip', 'incsspK Edq#opc')),
    MOD(PFX('xsaveopt FXSAVE#opc', 'clrssbsy Mq#opc', 'clwb Mb#opc'), PFX(RM(['mfence Skip', null, null, null, null, null, null, null]), 'umonitor Eva#opc', 'tpause Edq#opc', 'umwait Edq#opc')),
    MOD(PFX('clflush Mb', null, 'clflushopt Mb'), RM(['sfence Skip', null, null, null, null, null, null, null])),
  ]),
  0xaf: 'imulS Gv,Ev',
  0xb0: 'cmpxchgB Ebh1,Gb', 0xb1: 'cmpxchgS Evh1,Gv', 0xb2: MOD('lssS Gv,Mp#s=load-far-pointer', null), 0xb3: 'btrS Evh1,Gv',
  0xb4: MOD('lfsS Gv,Mp#s=load-far-pointer', null), 0xb5: MOD('lgsS Gv,Mp#s=load-far-pointer', null),
  0xb6: 'movz{bR|x} Gv,Eb', 0xb7: 'movz{wR|x} Gv,Ew',
  0xb8: PFX(null, 'popcntS Gv,Ev'), 0xb9: 'ud1S Gv,Ev',
  0xba: R([null, null, null, null, 'btQ Ev,Ib', 'btsQ Evh1,Ib', 'btrQ Evh1,Ib', 'btcQ Evh1,Ib']),
  0xbb: 'btcS Evh1,Gv', 0xbc: PFX('bsfS Gv,Ev', 'tzcntS Gv,Ev', 'bsfS Gv,Ev'), 0xbd: PFX('bsrS Gv,Ev', 'lzcntS Gv,Ev', 'bsrS Gv,Ev'),
  0xbe: 'movs{bR|x} Gv,Eb', 0xbf: 'movs{wR|x} Gv,Ew',
  0xc0: 'xaddB Ebh1,Gb', 0xc1: 'xaddS Evh1,Gv', 0xc3: MOD('movntiS Edq,Gdq#opc', null),
  0xc7: R([null, 'cmpxchg8b CMPXCHG8B', null, MOD('xrstors FXSAVE', null), MOD('xsavec FXSAVE', null), MOD('xsaves FXSAVE', null),
    MOD(PFX('vmptrld Mq', 'vmxon Mq', 'vmclear Mq'), PFX('rdrand Ev', M64(null, 'senduipi Eq'), 'rdrand Ev')),
    MOD('vmptrst Mq', PFX('rdseed Ev', 'rdpid Em', 'rdseed Ev'))]),
  0xff: 'ud0S Gv,Ev',
});
for (let c = 0; c < 16; c++) {
  TWO_BYTE[0x40 + c] = `cmov${CC[c]}S Gv,Ev`;
  TWO_BYTE[0x80 + c] = `j${CC[c]}H Jv,BND`;
  TWO_BYTE[0x90 + c] = `set${CC[c]} Eb`;
}
for (let r = 0; r < 8; r++) TWO_BYTE[0xc8 + r] = `bswap RMe${REG16[r]}`;

// SSE/SSE2/MMX families of the 0F map. Each row: opcode, [none, f3, 66, f2] templates; a bare string
// applies to the MMX (no prefix) and SSE2 (66) forms alike, the way the MX/EM operands switch on 66.
const MMX_SSE2: Record<number, string> = {
  0x60: 'punpcklbw', 0x61: 'punpcklwd', 0x62: 'punpckldq', 0x63: 'packsswb', 0x64: 'pcmpgtb', 0x65: 'pcmpgtw', 0x66: 'pcmpgtd', 0x67: 'packuswb',
  0x68: 'punpckhbw', 0x69: 'punpckhwd', 0x6a: 'punpckhdq', 0x6b: 'packssdw', 0x74: 'pcmpeqb', 0x75: 'pcmpeqw', 0x76: 'pcmpeqd',
  0xd1: 'psrlw', 0xd2: 'psrld', 0xd3: 'psrlq', 0xd4: 'paddq', 0xd5: 'pmullw', 0xd8: 'psubusb', 0xd9: 'psubusw', 0xda: 'pminub', 0xdb: 'pand',
  0xdc: 'paddusb', 0xdd: 'paddusw', 0xde: 'pmaxub', 0xdf: 'pandn', 0xe0: 'pavgb', 0xe1: 'psraw', 0xe2: 'psrad', 0xe3: 'pavgw', 0xe4: 'pmulhuw',
  0xe5: 'pmulhw', 0xe8: 'psubsb', 0xe9: 'psubsw', 0xea: 'pminsw', 0xeb: 'por', 0xec: 'paddsb', 0xed: 'paddsw', 0xee: 'pmaxsw', 0xef: 'pxor',
  0xf1: 'psllw', 0xf2: 'pslld', 0xf3: 'psllq', 0xf4: 'pmuludq', 0xf5: 'pmaddwd', 0xf6: 'psadbw', 0xf8: 'psubb', 0xf9: 'psubw', 0xfa: 'psubd',
  0xfb: 'psubq', 0xfc: 'paddb', 0xfd: 'paddw', 0xfe: 'paddd',
};
for (const [op, name] of Object.entries(MMX_SSE2)) TWO_BYTE[Number(op)] = `${name} MX,EM#opc`;
Object.assign(TWO_BYTE, {
  0x10: PFX('movups XM,EXx#opc', 'movss XM,EXd#opc', 'movupd XM,EXx#opc', 'movsd XM,EXq#opc'),
  0x11: PFX('movups EXxS,XM#opc', 'movss EXdS,XM#opc', 'movupd EXxS,XM#opc', 'movsd EXqS,XM#opc'),
  0x12: PFX(MOD('movlpX XM,EXq', 'movhlps XM,EXq'), 'movsldup XM,EXx', MOD('movlpX XM,EXq', null), 'movddup XM,EXq'),
  0x13: MOD('movlpX EXq,XM#opc', null),
  0x14: 'unpcklpX XM,EXx#opc', 0x15: 'unpckhpX XM,EXx#opc',
  0x16: PFX(MOD('movhpX XM,EXq', 'movlhps XM,EXq'), 'movshdup XM,EXx', MOD('movhpX XM,EXq', null)),
  0x17: MOD('movhpX EXq,XM#opc', null),
  0x28: 'movapX XM,EXx#opc', 0x29: 'movapX EXxS,XM#opc',
  0x2a: PFX('cvtpi2ps XM,EMCq', 'cvtsi2ss{%LQ|} XM,Edq', 'cvtpi2pd XM,EMCq', 'cvtsi2sd{%LQ|} XM,Edq'),
  0x2b: PFX(MOD('movntps Mx,XM#opc', null), MOD('movntss Md,XM#opc', null), MOD('movntpd Mx,XM#opc', null), MOD('movntsd Mq,XM#opc', null)),
  0x2c: PFX('cvttps2pi MXC,EXq', 'cvttss2si Gdq,EXd', 'cvttpd2pi MXC,EXx', 'cvttsd2si Gdq,EXq'),
  0x2d: PFX('cvtps2pi MXC,EXq', 'cvtss2si Gdq,EXd', 'cvtpd2pi MXC,EXx', 'cvtsd2si Gdq,EXq'),
  0x2e: PFX('ucomiss XM,EXd', null, 'ucomisd XM,EXq'), 0x2f: PFX('comiss XM,EXd', null, 'comisd XM,EXq'),
  0x50: MOD(null, 'movmskpX Gdq,XS#opc'),
  0x51: PFX('sqrtps XM,EXx', 'sqrtss XM,EXd', 'sqrtpd XM,EXx', 'sqrtsd XM,EXq'),
  0x52: PFX('rsqrtps XM,EXx', 'rsqrtss XM,EXd'), 0x53: PFX('rcpps XM,EXx', 'rcpss XM,EXd'),
  0x54: 'andpX XM,EXx#opc', 0x55: 'andnpX XM,EXx#opc', 0x56: 'orpX XM,EXx#opc', 0x57: 'xorpX XM,EXx#opc',
  0x58: PFX('addps XM,EXx', 'addss XM,EXd', 'addpd XM,EXx', 'addsd XM,EXq'),
  0x59: PFX('mulps XM,EXx', 'mulss XM,EXd', 'mulpd XM,EXx', 'mulsd XM,EXq'),
  0x5a: PFX('cvtps2pd XM,EXq', 'cvtss2sd XM,EXd', 'cvtpd2ps XM,EXx', 'cvtsd2ss XM,EXq'),
  0x5b: PFX('cvtdq2ps XM,EXx', 'cvttps2dq XM,EXx', 'cvtps2dq XM,EXx'),
  0x5c: PFX('subps XM,EXx', 'subss XM,EXd', 'subpd XM,EXx', 'subsd XM,EXq'),
  0x5d: PFX('minps XM,EXx', 'minss XM,EXd', 'minpd XM,EXx', 'minsd XM,EXq'),
  0x5e: PFX('divps XM,EXx', 'divss XM,EXd', 'divpd XM,EXx', 'divsd XM,EXq'),
  0x5f: PFX('maxps XM,EXx', 'maxss XM,EXd', 'maxpd XM,EXx', 'maxsd XM,EXq'),
  0x60: PFX('punpcklbw MX,EMd', null, 'punpcklbw MX,EMx'), 0x61: PFX('punpcklwd MX,EMd', null, 'punpcklwd MX,EMx'),
  0x62: PFX('punpckldq MX,EMd', null, 'punpckldq MX,EMx'),
  0x6c: 'punpcklqdq XM,EXx#data', 0x6d: 'punpckhqdq XM,EXx#data', 0x6e: 'movK MX,Edq#opc',
  0x6f: PFX('movq MX,EM', 'movdqu XM,EXx', 'movdqa XM,EXx'),
  0x70: PFX('pshufw MX,EM,Ib', 'pshufhw XM,EXx,Ib', 'pshufd XM,EXx,Ib', 'pshuflw XM,EXx,Ib'),
  0x71: MOD(null, R([null, null, 'psrlw MS,Ib#opc', null, 'psraw MS,Ib#opc', null, 'psllw MS,Ib#opc', null])),
  0x72: MOD(null, R([null, null, 'psrld MS,Ib#opc', null, 'psrad MS,Ib#opc', null, 'pslld MS,Ib#opc', null])),
  0x73: MOD(null, R([null, null, 'psrlq MS,Ib#opc', 'psrldq XS,Ib#data', null, null, 'psllq MS,Ib#opc', 'pslldq XS,Ib#data'])),
  0x77: 'emms#opc#g=mmx',
  0x78: PFX('vmread Em,Gm', null, 'extrq XS,Ib,Ib', 'insertq XM,XS,Ib,Ib'),
  0x79: PFX('vmwrite Gm,Em', null, 'extrq XM,XS', 'insertq XM,XS'),
  0x7c: PFX(null, null, 'haddpd XM,EXx', 'haddps XM,EXx'), 0x7d: PFX(null, null, 'hsubpd XM,EXx', 'hsubps XM,EXx'),
  0x7e: PFX('movK Edq,MX', 'movq XM,EXq', 'movK Edq,MX'),
  0x7f: PFX('movq EMS,MX', 'movdqu EXxS,XM', 'movdqa EXxS,XM'),
  0xc2: PFX('cmpps XM,EXx,CMP#opc', 'cmpss XM,EXd,CMP#opc', 'cmppd XM,EXx,CMP#opc', 'cmpsd XM,EXq,CMP#opc'),
  0xc4: 'pinsrw MX,Edw,Ib#opc', 0xc5: 'pextrw Gd,MS,Ib#opc', 0xc6: 'shufpX XM,EXx,Ib#opc',
  0xd0: PFX(null, null, 'addsubpd XM,EXx', 'addsubps XM,EXx'),
  0xd6: PFX(null, 'movq2dq XM,MS', 'movq EXqS,XM', 'movdq2q MX,XS'),
  0xd7: MOD(null, 'pmovmskb Gdq,MS'),
  0xe6: PFX(null, 'cvtdq2pd XM,EXq', 'cvttpd2dq XM,EXx', 'cvtpd2dq XM,EXx'),
  0xe7: PFX('movntq Mq,MX', null, MOD('movntdq Mx,XM', null)),
  0xf0: PFX(null, null, null, MOD('lddqu XM,M', null)),
  0xf7: PFX('maskmovq MX,MS', null, 'maskmovdqu XM,XS'),
});

/** Opcode bytes whose instruction has a ModRM byte (0F map). */
export const TWO_BYTE_HAS_MODRM = bits(`
1111000000000101 1111111111111111 1111111011111111 0000000010100000
1111111111111111 1111111111111111 1111111111111111 1111111011111111
0000000000000000 1111111111111111 0001111100011111 1111111111111111
1111111100000000 1111111111111111 1111111111111111 1111111111111111`);

// 0F 38 and 0F 3A maps (SSSE3 .. SSE4.2, AES, SHA, and a few general-purpose instructions). All have a
// ModRM byte; 0F 3A adds an imm8. Entries that exist, per mandatory prefix; others decode as (bad).
export const THREE_BYTE_38: RawEntry[] = new Array<RawEntry>(256).fill(null);
export const THREE_BYTE_3A: RawEntry[] = new Array<RawEntry>(256).fill(null);
const SSSE3_38: Record<number, string> = {
  0x00: 'pshufb', 0x01: 'phaddw', 0x02: 'phaddd', 0x03: 'phaddsw', 0x04: 'pmaddubsw', 0x05: 'phsubw', 0x06: 'phsubd', 0x07: 'phsubsw',
  0x08: 'psignb', 0x09: 'psignw', 0x0a: 'psignd', 0x0b: 'pmulhrsw', 0x1c: 'pabsb', 0x1d: 'pabsw', 0x1e: 'pabsd',
};
for (const [op, name] of Object.entries(SSSE3_38)) THREE_BYTE_38[Number(op)] = `${name} MX,EM#opc`;
const SSE4_38: Record<number, string> = {
  0x10: 'pblendvb XM,EXx,XMM0', 0x14: 'blendvps XM,EXx,XMM0', 0x15: 'blendvpd XM,EXx,XMM0', 0x17: 'ptest XM,EXx',
  0x20: 'pmovsxbw XM,EXq', 0x21: 'pmovsxbd XM,EXd', 0x22: 'pmovsxbq XM,EXw', 0x23: 'pmovsxwd XM,EXq', 0x24: 'pmovsxwq XM,EXd', 0x25: 'pmovsxdq XM,EXq',
  0x28: 'pmuldq XM,EXx', 0x29: 'pcmpeqq XM,EXx', 0x2a: 'movntdqa XM,Mx', 0x2b: 'packusdw XM,EXx',
  0x30: 'pmovzxbw XM,EXq', 0x31: 'pmovzxbd XM,EXd', 0x32: 'pmovzxbq XM,EXw', 0x33: 'pmovzxwd XM,EXq', 0x34: 'pmovzxwq XM,EXd', 0x35: 'pmovzxdq XM,EXq',
  0x37: 'pcmpgtq XM,EXx', 0x38: 'pminsb XM,EXx', 0x39: 'pminsd XM,EXx', 0x3a: 'pminuw XM,EXx', 0x3b: 'pminud XM,EXx',
  0x3c: 'pmaxsb XM,EXx', 0x3d: 'pmaxsd XM,EXx', 0x3e: 'pmaxuw XM,EXx', 0x3f: 'pmaxud XM,EXx', 0x40: 'pmulld XM,EXx', 0x41: 'phminposuw XM,EXx',
  0x80: 'invept Gm,M', 0x81: 'invvpid Gm,M', 0x82: 'invpcid Gm,M',
  0xcf: 'gf2p8mulb XM,EXxmm', 0xdb: 'aesimc XM,EXx',
};
for (const [op, t] of Object.entries(SSE4_38)) THREE_BYTE_38[Number(op)] = `${t}#data`;
Object.assign(THREE_BYTE_38, {
  0x2a: MOD('movntdqa XM,Mx#data', null),
  0x80: 'invept Gm,Mo#data', 0x81: 'invvpid Gm,Mo#data', 0x82: 'invpcid Gm,M#data',
  0xc8: 'sha1nexte XM,EXxmm#opc', 0xc9: 'sha1msg1 XM,EXxmm#opc', 0xca: 'sha1msg2 XM,EXxmm#opc', 0xcb: 'sha256rnds2 XM,EXxmm,XMM0#opc',
  0xcc: 'sha256msg1 XM,EXxmm#opc', 0xcd: 'sha256msg2 XM,EXxmm#opc',
  0xd8: PFX(null, R(['aesencwide128kl M', 'aesdecwide128kl M', 'aesencwide256kl M', 'aesdecwide256kl M', null, null, null, null])),
  0xdc: PFX(null, MOD('aesenc128kl XM,M', 'loadiwkey XM,EXx'), 'aesenc XM,EXx'),
  0xdd: PFX(null, MOD('aesdec128kl XM,M', null), 'aesenclast XM,EXx'),
  0xde: PFX(null, MOD('aesenc256kl XM,M', null), 'aesdec XM,EXx'),
  0xdf: PFX(null, MOD('aesdec256kl XM,M', null), 'aesdeclast XM,EXx'),
  0xf0: PFX('movbeS Gv,Mv#opc', null, 'movbeS Gv,Mv#opc', 'crc32A Gdq,Eb#opc'),
  0xf1: PFX('movbeS Mv,Gv#opc', null, 'movbeS Mv,Gv#opc', 'crc32Q Gdq,Ev#opc'),
  0xf5: MOD('wrussK M,Gdq#data', null), 0xf6: PFX(MOD('wrssK M,Gdq#opc', null), 'adoxS Gdq,Edq#opc', 'adcxS Gdq,Edq#opc'),
  0xf8: PFX(null, MOD('enqcmds Gva,M#opc', null), MOD('movdir64b Gva,M#opc', null), MOD('enqcmd Gva,M#opc', null)),
  0xf9: MOD('movdiri Edq,Gdq#opc', null),
  0xfa: PFX(null, MOD(null, 'encodekey128 Gd,Ed')), 0xfb: PFX(null, MOD(null, 'encodekey256 Gd,Ed')),
  0xfc: PFX('aadd Mdq,Gdq', 'axor Mdq,Gdq', 'aand Mdq,Gdq', 'aor Mdq,Gdq'),
});
for (const op of [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x1c, 0x1d, 0x1e]) THREE_BYTE_38[op] = `${SSSE3_38[op]} MX,EM#opc`;
const SSE4_3A: Record<number, string> = {
  0x08: 'roundps XM,EXx,Ib', 0x09: 'roundpd XM,EXx,Ib', 0x0a: 'roundss XM,EXd,Ib', 0x0b: 'roundsd XM,EXq,Ib',
  0x0c: 'blendps XM,EXx,Ib', 0x0d: 'blendpd XM,EXx,Ib', 0x0e: 'pblendw XM,EXx,Ib',
  0x14: 'pextrb Edb,XM,Ib', 0x15: 'pextrw Edw,XM,Ib', 0x16: 'pextrK Edq,XM,Ib', 0x17: 'extractps Ed,XM,Ib',
  0x20: 'pinsrb XM,Edb,Ib', 0x21: 'insertps XM,EXd,Ib', 0x22: 'pinsrK XM,Edq,Ib',
  0x40: 'dpps XM,EXx,Ib', 0x41: 'dppd XM,EXx,Ib', 0x42: 'mpsadbw XM,EXx,Ib', 0x44: 'pclmulqdq XM,EXx,PCLMUL',
  0x60: 'pcmpestrm!%LQ XM,EXx,Ib', 0x61: 'pcmpestri!%LQ XM,EXx,Ib', 0x62: 'pcmpistrm XM,EXx,Ib', 0x63: 'pcmpistri XM,EXx,Ib',
  0xce: 'gf2p8affineqb XM,EXxmm,Ib', 0xcf: 'gf2p8affineinvqb XM,EXxmm,Ib', 0xdf: 'aeskeygenassist XM,EXx,Ib',
};
for (const [op, t] of Object.entries(SSE4_3A)) THREE_BYTE_3A[Number(op)] = `${t}#data`;
THREE_BYTE_3A[0x0f] = 'palignr MX,EM,Ib#opc';
THREE_BYTE_3A[0xcc] = 'sha1rnds4 XM,EXxmm,Ib#opc';
THREE_BYTE_3A[0xf0] = PFX(null, MOD(null, R([RM(['hreset Skip,Ib', null, null, null, null, null, null, null]), null, null, null, null, null, null, null])));

/** 3DNow! suffix bytes (0F 0F modrm ... suffix): the mnemonic for each valid suffix. */
export const SUFFIX_3DNOW: Record<number, string> = {
  0x0c: 'pi2fw', 0x0d: 'pi2fd', 0x1c: 'pf2iw', 0x1d: 'pf2id', 0x8a: 'pfnacc', 0x8e: 'pfpnacc', 0x90: 'pfcmpge', 0x94: 'pfmin',
  0x96: 'pfrcp', 0x97: 'pfrsqrt', 0x9a: 'pfsub', 0x9e: 'pfadd', 0xa0: 'pfcmpgt', 0xa4: 'pfmax', 0xa6: 'pfrcpit1', 0xa7: 'pfrsqit1',
  0xaa: 'pfsubr', 0xae: 'pfacc', 0xb0: 'pfcmpeq', 0xb4: 'pfmul', 0xb6: 'pfrcpit2', 0xb7: 'pmulhrw', 0xbb: 'pswapd', 0xbf: 'pavgusb',
};

// ---------------------------------------------------------------------------------------------
// x87 (D8-DF): memory forms by (opcode, reg); register forms by (opcode, reg) or (opcode, reg, rm).
export const FLOAT_MEM: readonly (string | null)[] = [
  'fadd{s|}', 'fmul{s|}', 'fcom{s|}', 'fcomp{s|}', 'fsub{s|}', 'fsubr{s|}', 'fdiv{s|}', 'fdivr{s|}',
  'fld{s|}', null, 'fst{s|}', 'fstp{s|}', 'fldenv{C|C}', 'fldcw', 'fNstenv{C|C}', 'fNstcw',
  'fiadd{l|}', 'fimul{l|}', 'ficom{l|}', 'ficomp{l|}', 'fisub{l|}', 'fisubr{l|}', 'fidiv{l|}', 'fidivr{l|}',
  'fild{l|}', 'fisttp{l|}', 'fist{l|}', 'fistp{l|}', null, 'fld{t|}', null, 'fstp{t|}',
  'fadd{l|}', 'fmul{l|}', 'fcom{l|}', 'fcomp{l|}', 'fsub{l|}', 'fsubr{l|}', 'fdiv{l|}', 'fdivr{l|}',
  'fld{l|}', 'fisttp{ll|}', 'fst{l||}', 'fstp{l|}', 'frstor{C|C}', null, 'fNsave{C|C}', 'fNstsw',
  'fiadd{s|}', 'fimul{s|}', 'ficom{s|}', 'ficomp{s|}', 'fisub{s|}', 'fisubr{s|}', 'fidiv{s|}', 'fidivr{s|}',
  'fild{s|}', 'fisttp{s|}', 'fist{s|}', 'fistp{s|}', 'fbld', 'fild{ll|}', 'fbstp', 'fistp{ll|}',
];
/** Register forms: "name ops" (ST = %st, STi = %st(i)), or an array of 8 names selected by rm. */
export const FLOAT_REG: readonly (string | readonly string[] | null)[][] = [
  ['fadd ST,STi', 'fmul ST,STi', 'fcom STi', 'fcomp STi', 'fsub ST,STi', 'fsubr ST,STi', 'fdiv ST,STi', 'fdivr ST,STi'],
  ['fld STi', 'fxch STi', ['fnop', null, null, null, null, null, null, null] as any, null,
    ['fchs', 'fabs', null, null, 'ftst', 'fxam', null, null] as any,
    ['fld1', 'fldl2t', 'fldl2e', 'fldpi', 'fldlg2', 'fldln2', 'fldz', null] as any,
    ['f2xm1', 'fyl2x', 'fptan', 'fpatan', 'fxtract', 'fprem1', 'fdecstp', 'fincstp'],
    ['fprem', 'fyl2xp1', 'fsqrt', 'fsincos', 'frndint', 'fscale', 'fsin', 'fcos']],
  ['fcmovb ST,STi', 'fcmove ST,STi', 'fcmovbe ST,STi', 'fcmovu ST,STi', null, [null, 'fucompp', null, null, null, null, null, null] as any, null, null],
  ['fcmovnb ST,STi', 'fcmovne ST,STi', 'fcmovnbe ST,STi', 'fcmovnu ST,STi',
    ['fNeni(8087 only)', 'fNdisi(8087 only)', 'fNclex', 'fNinit', 'fNsetpm(287 only)', 'frstpm(287 only)', null, null] as any,
    'fucomi ST,STi', 'fcomi ST,STi', null],
  ['fadd STi,ST', 'fmul STi,ST', null, null, 'fsub{!M|r} STi,ST', 'fsub{M|} STi,ST', 'fdiv{!M|r} STi,ST', 'fdiv{M|} STi,ST'],
  ['ffree STi', null, 'fst STi', 'fstp STi', 'fucom STi', 'fucomp STi', null, null],
  ['faddp STi,ST', 'fmulp STi,ST', null, [null, 'fcompp', null, null, null, null, null, null] as any,
    'fsub{!M|r}p STi,ST', 'fsub{M|}p STi,ST', 'fdiv{!M|r}p STi,ST', 'fdiv{M|}p STi,ST'],
  ['ffreep STi', null, null, null, ['fNstsw', null, null, null, null, null, null, null] as any, 'fucomip ST,STi', 'fcomip ST,STi', null],
];
/** Operand size of each x87 memory form, as a bytemode name (d, w, q, t, or '' for none). */
export const FLOAT_MEM_MODE = 'dddddddd' + 'd-dd-w-w' + 'dddddddd' + 'dddd-t-t' + 'qqqqqqqq' + 'qqqq---w' + 'wwwwwwww' + 'wwwwtqtq';

function bits(text: string): Uint8Array {
  const s = text.replace(/\s+/g, '');
  const out = new Uint8Array(256);
  for (let i = 0; i < 256; i++) out[i] = s[i] === '1' ? 1 : 0;
  return out;
}
