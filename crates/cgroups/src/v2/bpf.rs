//! The eBPF device program of a v2 cgroup, built from device rules. The
//! kernel runs it on every open or mknod of a device node by a process of
//! the cgroup (`BPF_PROG_TYPE_CGROUP_DEVICE`, bpf(2)) with a pointer to
//!
//! ```c
//! struct bpf_cgroup_dev_ctx { u32 access_type; /* (access << 16) | type */ u32 major; u32 minor; };
//! ```
//!
//! and allows the access when it returns 1. Only the handful of
//! instructions the program needs are encoded here (the kernel's
//! `Documentation/bpf/standardization/instruction-set.rst`); runc and youki
//! build the same program.

use std::fmt;

use crate::devices::effective;
use crate::{DeviceRule, DeviceType};

/// One eBPF instruction, laid out as the kernel's `struct bpf_insn`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    code: u8,
    /// dst_reg:4, src_reg:4 as a C bitfield (dst in the low nibble on
    /// little-endian machines).
    regs: u8,
    off: i16,
    imm: i32,
}

const _: () = assert!(std::mem::size_of::<Insn>() == 8);

// Opcode parts: class | size/operation | source.
const CLASS_LDX: u8 = 0x01;
const CLASS_ALU32: u8 = 0x04;
const CLASS_JMP: u8 = 0x05;
const MODE_MEM: u8 = 0x60;
const SIZE_W: u8 = 0x00;
const SRC_K: u8 = 0x00;
const SRC_X: u8 = 0x08;
const OP_AND: u8 = 0x50;
const OP_RSH: u8 = 0x70;
const OP_MOV: u8 = 0xb0;
const OP_JEQ: u8 = 0x10;
const OP_JNE: u8 = 0x50;
const OP_EXIT: u8 = 0x90;

const LDX_W: u8 = CLASS_LDX | MODE_MEM | SIZE_W;
const AND32_K: u8 = CLASS_ALU32 | OP_AND | SRC_K;
const RSH32_K: u8 = CLASS_ALU32 | OP_RSH | SRC_K;
const MOV32_K: u8 = CLASS_ALU32 | OP_MOV | SRC_K;
const MOV32_X: u8 = CLASS_ALU32 | OP_MOV | SRC_X;
const JEQ_K: u8 = CLASS_JMP | OP_JEQ | SRC_K;
const JNE_K: u8 = CLASS_JMP | OP_JNE | SRC_K;
const JNE_X: u8 = CLASS_JMP | OP_JNE | SRC_X;
const EXIT: u8 = CLASS_JMP | OP_EXIT;

/// A register number, r0 to r10.
pub(crate) type Reg = u8;

impl Insn {
    fn new(code: u8, dst: Reg, src: Reg, off: i16, imm: i32) -> Insn {
        let regs = if cfg!(target_endian = "little") {
            src << 4 | dst
        } else {
            dst << 4 | src
        };
        Insn {
            code,
            regs,
            off,
            imm,
        }
    }

    fn dst(&self) -> Reg {
        if cfg!(target_endian = "little") {
            self.regs & 0xf
        } else {
            self.regs >> 4
        }
    }

    fn src(&self) -> Reg {
        if cfg!(target_endian = "little") {
            self.regs >> 4
        } else {
            self.regs & 0xf
        }
    }

    /// `dst = *(u32 *)(src + off)`, zero-extended.
    fn load_u32(dst: Reg, src: Reg, off: i16) -> Insn {
        Insn::new(LDX_W, dst, src, off, 0)
    }

    /// `(u32) dst &= imm`.
    fn and32(dst: Reg, imm: i32) -> Insn {
        Insn::new(AND32_K, dst, 0, 0, imm)
    }

    /// `(u32) dst >>= imm`.
    fn rsh32(dst: Reg, imm: i32) -> Insn {
        Insn::new(RSH32_K, dst, 0, 0, imm)
    }

    /// `(u32) dst = imm`.
    fn mov32(dst: Reg, imm: i32) -> Insn {
        Insn::new(MOV32_K, dst, 0, 0, imm)
    }

    /// `(u32) dst = (u32) src`.
    fn mov32_reg(dst: Reg, src: Reg) -> Insn {
        Insn::new(MOV32_X, dst, src, 0, 0)
    }

    /// `if dst != imm goto +off` (64-bit compare; `imm` is sign-extended,
    /// so it must be non-negative to match a zero-extended u32).
    fn jne(dst: Reg, imm: i32) -> Insn {
        Insn::new(JNE_K, dst, 0, 0, imm)
    }

    /// `if dst == imm goto +off` (as [`jne`](Insn::jne)).
    fn jeq(dst: Reg, imm: i32) -> Insn {
        Insn::new(JEQ_K, dst, 0, 0, imm)
    }

    /// `if dst != src goto +off`.
    fn jne_reg(dst: Reg, src: Reg) -> Insn {
        Insn::new(JNE_X, dst, src, 0, 0)
    }

    /// Return r0.
    fn exit() -> Insn {
        Insn::new(EXIT, 0, 0, 0, 0)
    }

    fn is_jump(&self) -> bool {
        matches!(self.code, JEQ_K | JNE_K | JNE_X)
    }
}

/// The instruction in the kernel verifier's notation (`w` for a 32-bit
/// operation on a register).
impl fmt::Display for Insn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (dst, src, off, imm) = (self.dst(), self.src(), self.off, self.imm);
        match self.code {
            LDX_W => write!(f, "r{dst} = *(u32 *)(r{src} + {off})"),
            AND32_K => write!(f, "w{dst} &= {imm:#x}"),
            RSH32_K => write!(f, "w{dst} >>= {imm}"),
            MOV32_K => write!(f, "w{dst} = {imm}"),
            MOV32_X => write!(f, "w{dst} = w{src}"),
            JEQ_K => write!(f, "if r{dst} == {imm} goto {off:+}"),
            JNE_K => write!(f, "if r{dst} != {imm} goto {off:+}"),
            JNE_X => write!(f, "if r{dst} != r{src} goto {off:+}"),
            EXIT => write!(f, "exit"),
            code => write!(f, "unknown {code:#04x} r{dst} r{src} {off:+} {imm}"),
        }
    }
}

// The registers of the program: r1 holds the context pointer on entry;
// after the prelude the fields live in r2..r5 and r1 is scratch.
const R0: Reg = 0;
const R_CTX: Reg = 1;
const R_TMP: Reg = 1;
const R_TYPE: Reg = 2;
const R_ACCESS: Reg = 3;
const R_MAJOR: Reg = 4;
const R_MINOR: Reg = 5;

/// Offsets in `struct bpf_cgroup_dev_ctx`.
const CTX_ACCESS_TYPE: i16 = 0;
const CTX_MAJOR: i16 = 4;
const CTX_MINOR: i16 = 8;

/// `BPF_DEVCG_DEV_BLOCK`, `BPF_DEVCG_DEV_CHAR`.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
/// `BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE`.
const ACC_ALL: u32 = 7;

/// The device program for `rules` (validated) on top of "deny
/// everything": the rules are tried last to first and the first that
/// matches decides, so a later rule overrides an earlier one; no match
/// returns the default (deny, or allow after an `All` allow rule). As on
/// v1, an allow rule matches when it covers every access asked for at once
/// (`rw` for an `O_RDWR` open), a deny rule when it covers any of them.
pub(crate) fn device_program(rules: &[DeviceRule]) -> Vec<Insn> {
    let (allow_all, rest) = effective(rules);
    // Leading rules that say what the default says override nothing.
    let first = rest
        .iter()
        .position(|r| r.allow != allow_all)
        .unwrap_or(rest.len());
    let rest = &rest[first..];
    let mut prog = Vec::new();
    if !rest.is_empty() {
        prog.extend([
            Insn::load_u32(R_TYPE, R_CTX, CTX_ACCESS_TYPE),
            Insn::and32(R_TYPE, 0xffff),
            Insn::load_u32(R_ACCESS, R_CTX, CTX_ACCESS_TYPE),
            Insn::rsh32(R_ACCESS, 16),
            Insn::load_u32(R_MAJOR, R_CTX, CTX_MAJOR),
            Insn::load_u32(R_MINOR, R_CTX, CTX_MINOR),
        ]);
    }
    for rule in rest.iter().rev() {
        let kind = match rule.kind {
            DeviceType::Block => DEV_BLOCK,
            DeviceType::Char => DEV_CHAR,
            // effective() leaves none.
            DeviceType::All => continue,
        };
        prog.extend(rule_block(rule, kind));
    }
    prog.extend(verdict(allow_all));
    prog
}

/// `return allow`.
fn verdict(allow: bool) -> [Insn; 2] {
    [Insn::mov32(R0, i32::from(allow)), Insn::exit()]
}

/// Checks that jump past the block when the access does not match `rule`
/// (of device type `kind`), then its verdict.
fn rule_block(rule: &DeviceRule, kind: i32) -> Vec<Insn> {
    let mut block = vec![Insn::jne(R_TYPE, kind)];
    let access = rule.access_bits();
    if access != ACC_ALL {
        block.extend([
            Insn::mov32_reg(R_TMP, R_ACCESS),
            Insn::and32(R_TMP, access as i32),
            if rule.allow {
                // Allow: every access asked for is among the rule's.
                Insn::jne_reg(R_TMP, R_ACCESS)
            } else {
                // Deny: any of them is.
                Insn::jeq(R_TMP, 0)
            },
        ]);
    }
    // Validated rules hold numbers below 2^31.
    if let Some(major) = rule.major {
        block.push(Insn::jne(R_MAJOR, major as i32));
    }
    if let Some(minor) = rule.minor {
        block.push(Insn::jne(R_MINOR, minor as i32));
    }
    block.extend(verdict(rule.allow));
    let len = block.len();
    for (i, insn) in block.iter_mut().enumerate() {
        if insn.is_jump() {
            // Relative to the next instruction: land just past the block.
            insn.off = (len - i - 1) as i16;
        }
    }
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One line per instruction, with each jump's target.
    fn listing(prog: &[Insn]) -> Vec<String> {
        prog.iter()
            .enumerate()
            .map(|(i, insn)| {
                if insn.is_jump() {
                    let target = i as i64 + 1 + i64::from(insn.off);
                    format!("{i:3}: {insn} <{target}>")
                } else {
                    format!("{i:3}: {insn}")
                }
            })
            .collect()
    }

    /// Access bits for [`run`]: `BPF_DEVCG_ACC_*`.
    const MKNOD: u32 = 1;
    const READ: u32 = 2;
    const WRITE: u32 = 4;

    /// A tiny interpreter of the instructions above, standing in for the
    /// kernel: run `prog` on one access and return r0.
    fn run(prog: &[Insn], kind: i32, major: u32, minor: u32, access: u32) -> u64 {
        let ctx = [(access << 16) | kind as u32, major, minor];
        let mut regs = [0u64; 11];
        regs[1] = u64::MAX; // the context pointer, only ever loaded from
        let mut pc = 0usize;
        for _ in 0..prog.len() {
            let insn = prog[pc];
            let (dst, src) = (insn.dst() as usize, insn.src() as usize);
            let imm = insn.imm;
            pc += 1;
            match insn.code {
                LDX_W => {
                    assert_eq!(regs[src], u64::MAX, "load from a non-context register");
                    regs[dst] = u64::from(ctx[insn.off as usize / 4]);
                }
                AND32_K => regs[dst] = u64::from(regs[dst] as u32 & imm as u32),
                RSH32_K => regs[dst] = u64::from((regs[dst] as u32) >> imm),
                MOV32_K => regs[dst] = u64::from(imm as u32),
                MOV32_X => regs[dst] = u64::from(regs[src] as u32),
                JEQ_K if regs[dst] == imm as i64 as u64 => pc += insn.off as usize,
                JNE_K if regs[dst] != imm as i64 as u64 => pc += insn.off as usize,
                JNE_X if regs[dst] != regs[src] => pc += insn.off as usize,
                JEQ_K | JNE_K | JNE_X => {}
                EXIT => return regs[0],
                code => panic!("unknown opcode {code:#04x}"),
            }
            assert!(pc < prog.len(), "ran off the end");
        }
        panic!("no exit reached (a jump backwards?)")
    }

    #[test]
    fn default_rules_listing() {
        let prog = device_program(&DeviceRule::default_allowed());
        insta::assert_snapshot!(listing(&prog).join("\n"));
    }

    #[test]
    fn default_rules_decide_like_docker() {
        let prog = device_program(&DeviceRule::default_allowed());
        let allowed = |kind, major, minor, access| run(&prog, kind, major, minor, access) == 1;
        assert!(allowed(DEV_CHAR, 1, 3, READ | WRITE)); // /dev/null
        assert!(allowed(DEV_CHAR, 1, 3, MKNOD));
        assert!(allowed(DEV_CHAR, 10, 200, READ | WRITE)); // tun
        assert!(allowed(DEV_CHAR, 136, 7, READ | WRITE)); // a pty
        assert!(allowed(DEV_CHAR, 4, 1, MKNOD)); // any mknod
        assert!(allowed(DEV_BLOCK, 8, 0, MKNOD));
        assert!(!allowed(DEV_BLOCK, 8, 0, READ)); // a disk
        assert!(!allowed(DEV_BLOCK, 1, 3, READ)); // null's numbers, but block
        assert!(!allowed(DEV_CHAR, 4, 1, READ)); // a virtual console
        assert!(!allowed(DEV_CHAR, 4, 1, READ | MKNOD));
        assert!(!allowed(DEV_CHAR, 10, 201, READ));
        assert!(!allowed(DEV_CHAR, 1, 11, WRITE)); // kmsg
    }

    #[test]
    fn allow_all_passes_everything() {
        let mut rules = DeviceRule::default_allowed();
        rules.push(DeviceRule::allow_all());
        let prog = device_program(&rules);
        assert_eq!(listing(&prog), ["  0: w0 = 1", "  1: exit"]);
        for kind in [DEV_BLOCK, DEV_CHAR] {
            for access in [MKNOD, READ, WRITE, READ | WRITE | MKNOD] {
                assert_eq!(run(&prog, kind, 8, 0, access), 1);
            }
        }
        assert_eq!(run(&device_program(&[]), DEV_CHAR, 1, 3, READ), 0);
    }

    #[test]
    fn later_rules_override_earlier_ones() {
        let deny = |rule: &str| DeviceRule {
            allow: false,
            ..rule.parse().unwrap()
        };
        // Privileged, but no writes to block devices 8:*.
        let rules = [DeviceRule::allow_all(), deny("b 8:* w")];
        let prog = device_program(&rules);
        assert_eq!(run(&prog, DEV_BLOCK, 8, 0, READ), 1);
        assert_eq!(run(&prog, DEV_BLOCK, 8, 0, READ | WRITE), 0);
        assert_eq!(run(&prog, DEV_BLOCK, 8, 0, WRITE), 0);
        assert_eq!(run(&prog, DEV_BLOCK, 7, 0, WRITE), 1);
        // A hole in a wildcard, then re-allowed for mknod only.
        let rules = [
            "c *:* rwm".parse().unwrap(),
            deny("c 1:3 rwm"),
            "c 1:3 m".parse().unwrap(),
        ];
        let prog = device_program(&rules);
        assert_eq!(run(&prog, DEV_CHAR, 1, 5, READ), 1);
        assert_eq!(run(&prog, DEV_CHAR, 1, 3, READ), 0);
        assert_eq!(run(&prog, DEV_CHAR, 1, 3, MKNOD), 1);
        // Leading deny rules change nothing on top of deny-all.
        let prog = device_program(&[deny("c 1:3 r")]);
        assert_eq!(prog, verdict(false));
    }

    #[test]
    fn encoding_matches_the_kernel_layout() {
        // r2 = *(u32 *)(r1 + 4), as the kernel's BPF_LDX_MEM(BPF_W, 2, 1, 4).
        let insn = Insn::load_u32(2, 1, 4);
        // SAFETY: Insn is repr(C), 8 bytes of plain integers.
        let bytes: [u8; 8] = unsafe { std::mem::transmute(insn) };
        if cfg!(target_endian = "little") {
            assert_eq!(bytes, [0x61, 0x12, 4, 0, 0, 0, 0, 0]);
        }
        assert_eq!(Insn::exit().code, 0x95);
        assert_eq!(Insn::jne(2, 1).code, 0x55);
        assert_eq!(Insn::mov32(0, 1).code, 0xb4);
    }
}
