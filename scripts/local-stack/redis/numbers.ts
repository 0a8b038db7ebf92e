// Number parsing and formatting the way Redis 7 does it, for the in-memory backend:
// strict integers (string2ll), doubles (strtod with Redis' checks), C's %.<p>g, and the
// 80-bit long double arithmetic behind INCRBYFLOAT/HINCRBYFLOAT ("%.17Lf", trimmed).

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

const INTEGER_RE = /^(0|-?[1-9][0-9]{0,19})$/;

/** Redis string2ll: no sign '+', no leading zeros or spaces, within int64. */
export function parseInt64(s: string): bigint | null {
  if (!INTEGER_RE.test(s)) return null;
  const v = BigInt(s);
  return v < INT64_MIN || v > INT64_MAX ? null : v;
}

const FLOAT_RE = /^[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?)$/i;

/** strtod as Redis checks it: no leading space, whole string used, not NaN, no overflow. */
export function parseDouble(s: string): number | null {
  if (!FLOAT_RE.test(s)) return null;
  const body = s.replace(/^[+-]/, "");
  const neg = s.startsWith("-");
  if (/^inf/i.test(body)) return neg ? -Infinity : Infinity;
  const v = Number(s);
  if (Number.isNaN(v) || !Number.isFinite(v)) return null; // ERANGE overflow
  if (v === 0 && /[1-9]/.test(body.split(/[eE]/)[0])) return null; // ERANGE underflow to zero
  return v;
}

/** C printf "%.<prec>g" for a double (glibc spelling of inf/nan). */
export function formatG(x: number, prec = 17): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  const p = Math.max(1, prec);
  const [mant, expStr] = x.toExponential(p - 1).split("e");
  const e = Number(expStr);
  if (e < -4 || e >= p) {
    const m = stripZeros(mant);
    const abs = Math.abs(e);
    return `${m}e${e < 0 ? "-" : "+"}${abs < 10 ? "0" : ""}${abs}`;
  }
  return stripZeros(x.toFixed(Math.max(0, p - 1 - e)));
}

function stripZeros(s: string): string {
  if (!s.includes(".")) return s;
  return s.replace(/0+$/, "").replace(/\.$/, "");
}

// ---- 80-bit long double emulation (x87 extended: 64-bit significand) ----------------------

/** value = (neg ? -1 : 1) * m * 2^e, m < 2^64; m = 0n for zero. */
interface LongDouble {
  neg: boolean;
  m: bigint;
  e: number;
}

const SIG_BITS = 64;
const LD_MAX_EXP = 16384; // values >= 2^16384 overflow to inf

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/** Rounds num/den (positive) * 2^e0 to a 64-bit significand, half to even. */
function roundRational(neg: boolean, num: bigint, den: bigint, e0: number): LongDouble | null {
  if (num === 0n) return { neg, m: 0n, e: 0 };
  // Choose shift so that (num << shift) / den has SIG_BITS bits.
  let shift = SIG_BITS - (bitLength(num) - bitLength(den));
  let q: bigint, r: bigint, d: bigint;
  for (;;) {
    const n = shift >= 0 ? num << BigInt(shift) : num;
    d = shift >= 0 ? den : den << BigInt(-shift);
    q = n / d;
    r = n % d;
    const bl = bitLength(q);
    if (bl > SIG_BITS) shift -= bl - SIG_BITS;
    else if (bl < SIG_BITS) shift += SIG_BITS - bl;
    else break;
  }
  const twice = r * 2n;
  if (twice > d || (twice === d && (q & 1n) === 1n)) {
    q += 1n;
    if (bitLength(q) > SIG_BITS) {
      q >>= 1n;
      shift -= 1;
    }
  }
  const e = e0 - shift;
  if (e + SIG_BITS > LD_MAX_EXP) return null;
  return { neg, m: q, e };
}

const LD_DEC_RE = /^([+-]?)(?:([0-9]+)\.?([0-9]*)|\.([0-9]+))(?:[eE]([+-]?[0-9]+))?$/;

/** strtold as Redis' string2ld checks it; null when not a valid finite number. */
export function parseLongDouble(s: string): LongDouble | null {
  const match = LD_DEC_RE.exec(s);
  if (!match) return null;
  const neg = match[1] === "-";
  const intPart = match[2] ?? "";
  const fracPart = match[3] ?? match[4] ?? "";
  const exp = Number(match[5] ?? "0") - fracPart.length;
  if (Math.abs(exp) > 6000) {
    const digits = (intPart + fracPart).replace(/^0+/, "");
    if (digits === "") return { neg, m: 0n, e: 0 };
    if (exp > 0) return null;
  }
  const digits = BigInt((intPart + fracPart) || "0");
  if (digits === 0n) return { neg, m: 0n, e: 0 };
  return exp >= 0 ? roundRational(neg, digits * 10n ** BigInt(exp), 1n, 0) : roundRational(neg, digits, 10n ** BigInt(-exp), 0);
}

export function addLongDouble(a: LongDouble, b: LongDouble): LongDouble | null {
  if (a.m === 0n) return b;
  if (b.m === 0n) return a;
  const e = Math.min(a.e, b.e);
  const av = (a.neg ? -a.m : a.m) << BigInt(a.e - e);
  const bv = (b.neg ? -b.m : b.m) << BigInt(b.e - e);
  const sum = av + bv;
  if (sum === 0n) return { neg: false, m: 0n, e: 0 };
  return roundRational(sum < 0n, sum < 0n ? -sum : sum, 1n, e);
}

/** "%.17Lf" with trailing zeros (and a trailing dot) removed, "-0" as "0" (LD_STR_HUMAN). */
export function formatLongDoubleHuman(x: LongDouble): string {
  const FRAC = 17n;
  const scale = 10n ** FRAC;
  let scaled: bigint;
  if (x.e >= 0) scaled = (x.m << BigInt(x.e)) * scale;
  else {
    const den = 1n << BigInt(-x.e);
    const n = x.m * scale;
    let q = n / den;
    const r = n % den;
    if (r * 2n > den || (r * 2n === den && (q & 1n) === 1n)) q += 1n;
    scaled = q;
  }
  const intPart = scaled / scale;
  const fracPart = (scaled % scale).toString().padStart(Number(FRAC), "0").replace(/0+$/, "");
  let out = (x.neg ? "-" : "") + intPart.toString() + (fracPart ? "." + fracPart : "");
  if (out === "-0") out = "0";
  return out;
}
