/* ebb.json's numbers, both ways: a double written as JavaScript writes it
 * (the fewest digits that read back as the same double), and the exact
 * fast path of reading one (Clinger's). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static const char DIGIT_PAIRS[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                  "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                  "8081828384858687888990919293949596979899";

/* u's decimal digits, written backwards to end at `end`; returns how many. */
static int digits_before(uint64_t u, char *end) {
  char *p = end;
  while (u >= 100) {
    unsigned pair = (unsigned)(u % 100);
    u /= 100;
    p -= 2;
    memcpy(p, DIGIT_PAIRS + 2 * pair, 2);
  }
  if (u >= 10) {
    p -= 2;
    memcpy(p, DIGIT_PAIRS + 2 * u, 2);
  } else *--p = (char)('0' + u);
  return (int)(end - p);
}

/* u's decimal digits, trailing zeros dropped, into digits; returns how many
 * and sets *all to how many there were with the zeros. */
static int decimal_digits(uint64_t u, char *digits, int *all) {
  char tmp[24];
  int n = *all = digits_before(u, tmp + sizeof tmp);
  memcpy(digits, tmp + sizeof tmp - n, (size_t)n);
  while (n > 1 && digits[n - 1] == '0') n--;
  return n;
}

/* floor(log10(v)) for v > 0, finite: from the binary exponent, set right by
 * comparing with exact powers of ten where the table has them. */
static int decimal_exponent(double v) {
  int e2, e;
  frexp(v, &e2);
  e = (int)floor((e2 - 1) * 0.30102999566398120);
  if (e < -21 || e > 21) return (int)floor(log10(v));
  if (e >= 0 ? v < POW10[e] : v * POW10[-e] < 1) e--;
  else if (e + 1 >= 0 ? v >= POW10[e + 1] : v * POW10[-e - 1] >= 1) e++;
  return e;
}

#if LDBL_MANT_DIG >= 64
/* 16 or 17 digits by scaling in long double (64-bit mantissa, where 10^j is
 * exact up to 10^27): r, the 17-digit scaling of v rounded, is off by at most
 * 0.51 in its last digit, less than half of v's ulp, so it always reads back
 * as v. Its 16-digit rounding is taken when its own reading back is sure:
 * rounded to a double it gives v, and it is not so near a midpoint between
 * two doubles that the long double's rounding could have mattered. */
static int long_double_digits(double v, int e, char *digits, int *point) {
  static const long double P[] = {1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
                                  1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
                                  1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
  int j = 16 - e, all, n;
  long double x, r, r16, q, gap;
  double d;
  if (j < -26 || j > 27) return 0;
  x = j >= 0 ? (long double)v * P[j] : (long double)v / P[-j];
  r = nearbyintl(x);
  if (r < 1e16L || r >= 1e17L) return 0;
  r16 = nearbyintl(x / 10);
  q = j - 1 >= 0 ? r16 / P[j - 1] : r16 * P[1 - j];
  d = (double)q;
  gap = fminl((long double)nextafter(d, INFINITY) - d, d - (long double)nextafter(d, 0)) / 2;
  if (d == v && fabsl(q - d) < gap - q * 0x1p-62L) {
    n = decimal_digits((uint64_t)r16, digits, &all);
    *point = all - (j - 1);
  } else {
    n = decimal_digits((uint64_t)r, digits, &all);
    *point = all - j;
  }
  return n;
}
#else
static int long_double_digits(double v, int e, char *digits, int *point) {
  (void)v, (void)e, (void)digits, (void)point;
  return 0;
}
#endif

/* The digits of v (> 0, finite) without trailing zeros, and where the point
 * goes: v = 0.DIGITS x 10^point. Returns how many digits. First at most 15
 * digits found by scaling (exact: r and 10^j are exact doubles, and r / 10^j
 * is rounded correctly, so equal means the decimal reads back as v); then 16
 * or 17 by scaling in long double; else the fewest of 15, 16 or 17 from
 * printf that strtod reads back as v (numbers beyond 1e43 or below 1e-11). */
static int shortest_digits(double v, char *digits, int *point) {
  int n = 0, all, e = decimal_exponent(v), j = 14 - e;
  if (j >= -22 && j <= 22) {
    double p = POW10[j < 0 ? -j : j], r = nearbyint(j >= 0 ? v * p : v / p);
    if (r >= 1 && r < 9007199254740992.0 && (j >= 0 ? r / p : r * p) == v) {
      n = decimal_digits((uint64_t)r, digits, &all);
      *point = all - j;
      return n;
    }
  }
  if ((n = long_double_digits(v, e, digits, point)) > 0) return n;
  for (int precision = 15; precision <= 17; precision++) {
    char buf[40], *x;
    snprintf(buf, sizeof buf, "%.*e", precision - 1, v);
    if (precision < 17 && strtod(buf, NULL) != v) continue;
    x = strchr(buf, 'e');
    *point = atoi(x + 1) + 1;
    for (const char *c = buf; c < x; c++)
      if (*c != '.') digits[n++] = *c;
    while (n > 1 && digits[n - 1] == '0') n--;
    break;
  }
  return n;
}

/* v as JavaScript writes a number: whole ones below 1e21 in full, others in
 * fixed notation from 1e-7, in exponent notation beyond ("1.5e-7", "1e+21"). */
size_t ebb_json_format_number(char *out, double v) {
  char digits[24];
  size_t len = 0;
  int k, point;
  if (v == 0) {
    out[0] = '0';
    return 1;
  }
  if (v < 0) {
    out[len++] = '-';
    v = -v;
  }
  if (v < 9007199254740992.0 && v == (double)(uint64_t)v) { /* whole: its digits as they are */
    k = digits_before((uint64_t)v, digits + sizeof digits);
    memcpy(out + len, digits + sizeof digits - k, (size_t)k);
    return len + (size_t)k;
  }
  k = shortest_digits(v, digits, &point);
  if (k <= point && point <= 21) { /* 1500 */
    memcpy(out + len, digits, (size_t)k);
    memset(out + len + k, '0', (size_t)(point - k));
    return len + (size_t)point;
  }
  if (0 < point && point <= 21) { /* 1.5 */
    memcpy(out + len, digits, (size_t)point);
    out[len + point] = '.';
    memcpy(out + len + point + 1, digits + point, (size_t)(k - point));
    return len + (size_t)k + 1;
  }
  if (-6 < point && point <= 0) { /* 0.0015 */
    out[len++] = '0';
    out[len++] = '.';
    memset(out + len, '0', (size_t)-point);
    memcpy(out + len - point, digits, (size_t)k);
    return len + (size_t)(k - point);
  }
  out[len++] = digits[0]; /* 1.5e-7 */
  if (k > 1) {
    out[len++] = '.';
    memcpy(out + len, digits + 1, (size_t)(k - 1));
    len += (size_t)(k - 1);
  }
  return len + (size_t)sprintf(out + len, "e%c%d", point - 1 < 0 ? '-' : '+', abs(point - 1));
}

/* The number of the text start..end (valid JSON) when its digits make a
 * whole number m below 2^53 and its exponent e is at most 22 either way:
 * m * 10^e or m / 10^-e, each rounded once, so exactly what strtod gives
 * (Clinger's fast path). 0 when it is not such a number. */
int ebb_json_fast_number(const char *p, const char *end, double *out) {
  uint64_t m = 0;
  int digits = 0, e = 0, neg = *p == '-', exp_neg = 0, x = 0;
  p += neg;
  for (; p < end && *p != 'e' && *p != 'E'; p++) {
    if (*p == '.') {
      for (const char *q = p + 1; q < end && *q >= '0' && *q <= '9'; q++) e--;
      continue;
    }
    if (m || *p != '0') digits++;
    if (digits > 15) return 0;
    m = m * 10 + (uint64_t)(*p - '0');
  }
  if (p < end) { /* the exponent */
    p++;
    if (*p == '+' || *p == '-') exp_neg = *p++ == '-';
    for (; p < end; p++) {
      x = x * 10 + (*p - '0');
      if (x > 400) return 0;
    }
    e += exp_neg ? -x : x;
  }
  if (e < -22 || e > 22) return 0;
  *out = e >= 0 ? (double)m * POW10[e] : (double)m / POW10[-e];
  if (neg) *out = -*out;
  return 1;
}
