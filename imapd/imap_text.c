/*
 * imap_text.c: the text handling shared by SEARCH, SORT and THREAD: case
 * folding, sort keys, charset conversion to UTF-8, RFC 2047 encoded-words,
 * a header parse that never fails, sent dates and the first address of an
 * address list.
 *
 * Message bytes are untrusted. Nothing here fails on them or recurses on
 * them: undecodable bytes are passed on raw (so they can still match a
 * search for themselves), every loop advances by at least one byte, and
 * nesting (comments) is a counter.
 *
 * Case folding is Unicode's simple case folding (CaseFolding.txt status C
 * and S) as of Unicode 14, stored as ranges: { lo, hi, delta, step } maps
 * every step-th code point from lo to hi to itself + delta, which covers
 * A-Z (step 1) and the alternating upper/lower pairs of Latin Extended
 * and Cyrillic (step 2) alike. The tables were generated with Python's
 * unicodedata (Unicode 14.0.0): for every code point, str.casefold() when
 * that yields one character, else str.lower() when that does (the S
 * entries such as U+1E9E and U+1F88), compressed into maximal runs; and
 * for the decomposition table unicodedata.normalize("NFD") of every code
 * point of U+00C0..U+04FF and U+1E00..U+1EFF that folding leaves alone.
 * Locale functions (towlower) are not used: their result depends on the
 * process's locale.
 */
#include <errno.h>
#include <iconv.h>
#include <string.h>

#include "mail_mime.h"
#include "mail_util.h"
#include "imap_text_private.h"

struct imap_text_fold_range {
	uint32_t lo, hi;
	int32_t	 delta;
	uint8_t	 step;		/* 1: every code point; 2: every other */
};

struct imap_text_decomp {
	uint16_t cp;
	uint16_t d[3];		/* NFD, 0-padded */
};

static const struct imap_text_fold_range imap_text_fold_tab[] = {
	{ 0x00041, 0x0005a, 32, 1 }, { 0x000b5, 0x000b5, 775, 1 },
	{ 0x000c0, 0x000d6, 32, 1 }, { 0x000d8, 0x000de, 32, 1 },
	{ 0x00100, 0x0012e, 1, 2 }, { 0x00132, 0x00136, 1, 2 },
	{ 0x00139, 0x00147, 1, 2 }, { 0x0014a, 0x00176, 1, 2 },
	{ 0x00178, 0x00178, -121, 1 }, { 0x00179, 0x0017d, 1, 2 },
	{ 0x0017f, 0x0017f, -268, 1 }, { 0x00181, 0x00181, 210, 1 },
	{ 0x00182, 0x00184, 1, 2 }, { 0x00186, 0x00186, 206, 1 },
	{ 0x00187, 0x00187, 1, 1 }, { 0x00189, 0x0018a, 205, 1 },
	{ 0x0018b, 0x0018b, 1, 1 }, { 0x0018e, 0x0018e, 79, 1 },
	{ 0x0018f, 0x0018f, 202, 1 }, { 0x00190, 0x00190, 203, 1 },
	{ 0x00191, 0x00191, 1, 1 }, { 0x00193, 0x00193, 205, 1 },
	{ 0x00194, 0x00194, 207, 1 }, { 0x00196, 0x00196, 211, 1 },
	{ 0x00197, 0x00197, 209, 1 }, { 0x00198, 0x00198, 1, 1 },
	{ 0x0019c, 0x0019c, 211, 1 }, { 0x0019d, 0x0019d, 213, 1 },
	{ 0x0019f, 0x0019f, 214, 1 }, { 0x001a0, 0x001a4, 1, 2 },
	{ 0x001a6, 0x001a6, 218, 1 }, { 0x001a7, 0x001a7, 1, 1 },
	{ 0x001a9, 0x001a9, 218, 1 }, { 0x001ac, 0x001ac, 1, 1 },
	{ 0x001ae, 0x001ae, 218, 1 }, { 0x001af, 0x001af, 1, 1 },
	{ 0x001b1, 0x001b2, 217, 1 }, { 0x001b3, 0x001b5, 1, 2 },
	{ 0x001b7, 0x001b7, 219, 1 }, { 0x001b8, 0x001b8, 1, 1 },
	{ 0x001bc, 0x001bc, 1, 1 }, { 0x001c4, 0x001c4, 2, 1 },
	{ 0x001c5, 0x001c5, 1, 1 }, { 0x001c7, 0x001c7, 2, 1 },
	{ 0x001c8, 0x001c8, 1, 1 }, { 0x001ca, 0x001ca, 2, 1 },
	{ 0x001cb, 0x001db, 1, 2 }, { 0x001de, 0x001ee, 1, 2 },
	{ 0x001f1, 0x001f1, 2, 1 }, { 0x001f2, 0x001f4, 1, 2 },
	{ 0x001f6, 0x001f6, -97, 1 }, { 0x001f7, 0x001f7, -56, 1 },
	{ 0x001f8, 0x0021e, 1, 2 }, { 0x00220, 0x00220, -130, 1 },
	{ 0x00222, 0x00232, 1, 2 }, { 0x0023a, 0x0023a, 10795, 1 },
	{ 0x0023b, 0x0023b, 1, 1 }, { 0x0023d, 0x0023d, -163, 1 },
	{ 0x0023e, 0x0023e, 10792, 1 }, { 0x00241, 0x00241, 1, 1 },
	{ 0x00243, 0x00243, -195, 1 }, { 0x00244, 0x00244, 69, 1 },
	{ 0x00245, 0x00245, 71, 1 }, { 0x00246, 0x0024e, 1, 2 },
	{ 0x00345, 0x00345, 116, 1 }, { 0x00370, 0x00372, 1, 2 },
	{ 0x00376, 0x00376, 1, 1 }, { 0x0037f, 0x0037f, 116, 1 },
	{ 0x00386, 0x00386, 38, 1 }, { 0x00388, 0x0038a, 37, 1 },
	{ 0x0038c, 0x0038c, 64, 1 }, { 0x0038e, 0x0038f, 63, 1 },
	{ 0x00391, 0x003a1, 32, 1 }, { 0x003a3, 0x003ab, 32, 1 },
	{ 0x003c2, 0x003c2, 1, 1 }, { 0x003cf, 0x003cf, 8, 1 },
	{ 0x003d0, 0x003d0, -30, 1 }, { 0x003d1, 0x003d1, -25, 1 },
	{ 0x003d5, 0x003d5, -15, 1 }, { 0x003d6, 0x003d6, -22, 1 },
	{ 0x003d8, 0x003ee, 1, 2 }, { 0x003f0, 0x003f0, -54, 1 },
	{ 0x003f1, 0x003f1, -48, 1 }, { 0x003f4, 0x003f4, -60, 1 },
	{ 0x003f5, 0x003f5, -64, 1 }, { 0x003f7, 0x003f7, 1, 1 },
	{ 0x003f9, 0x003f9, -7, 1 }, { 0x003fa, 0x003fa, 1, 1 },
	{ 0x003fd, 0x003ff, -130, 1 }, { 0x00400, 0x0040f, 80, 1 },
	{ 0x00410, 0x0042f, 32, 1 }, { 0x00460, 0x00480, 1, 2 },
	{ 0x0048a, 0x004be, 1, 2 }, { 0x004c0, 0x004c0, 15, 1 },
	{ 0x004c1, 0x004cd, 1, 2 }, { 0x004d0, 0x0052e, 1, 2 },
	{ 0x00531, 0x00556, 48, 1 }, { 0x010a0, 0x010c5, 7264, 1 },
	{ 0x010c7, 0x010c7, 7264, 1 }, { 0x010cd, 0x010cd, 7264, 1 },
	{ 0x013f8, 0x013fd, -8, 1 }, { 0x01c80, 0x01c80, -6222, 1 },
	{ 0x01c81, 0x01c81, -6221, 1 }, { 0x01c82, 0x01c82, -6212, 1 },
	{ 0x01c83, 0x01c84, -6210, 1 }, { 0x01c85, 0x01c85, -6211, 1 },
	{ 0x01c86, 0x01c86, -6204, 1 }, { 0x01c87, 0x01c87, -6180, 1 },
	{ 0x01c88, 0x01c88, 35267, 1 }, { 0x01c90, 0x01cba, -3008, 1 },
	{ 0x01cbd, 0x01cbf, -3008, 1 }, { 0x01e00, 0x01e94, 1, 2 },
	{ 0x01e9b, 0x01e9b, -58, 1 }, { 0x01e9e, 0x01e9e, -7615, 1 },
	{ 0x01ea0, 0x01efe, 1, 2 }, { 0x01f08, 0x01f0f, -8, 1 },
	{ 0x01f18, 0x01f1d, -8, 1 }, { 0x01f28, 0x01f2f, -8, 1 },
	{ 0x01f38, 0x01f3f, -8, 1 }, { 0x01f48, 0x01f4d, -8, 1 },
	{ 0x01f59, 0x01f5f, -8, 2 }, { 0x01f68, 0x01f6f, -8, 1 },
	{ 0x01f88, 0x01f8f, -8, 1 }, { 0x01f98, 0x01f9f, -8, 1 },
	{ 0x01fa8, 0x01faf, -8, 1 }, { 0x01fb8, 0x01fb9, -8, 1 },
	{ 0x01fba, 0x01fbb, -74, 1 }, { 0x01fbc, 0x01fbc, -9, 1 },
	{ 0x01fbe, 0x01fbe, -7173, 1 }, { 0x01fc8, 0x01fcb, -86, 1 },
	{ 0x01fcc, 0x01fcc, -9, 1 }, { 0x01fd8, 0x01fd9, -8, 1 },
	{ 0x01fda, 0x01fdb, -100, 1 }, { 0x01fe8, 0x01fe9, -8, 1 },
	{ 0x01fea, 0x01feb, -112, 1 }, { 0x01fec, 0x01fec, -7, 1 },
	{ 0x01ff8, 0x01ff9, -128, 1 }, { 0x01ffa, 0x01ffb, -126, 1 },
	{ 0x01ffc, 0x01ffc, -9, 1 }, { 0x02126, 0x02126, -7517, 1 },
	{ 0x0212a, 0x0212a, -8383, 1 }, { 0x0212b, 0x0212b, -8262, 1 },
	{ 0x02132, 0x02132, 28, 1 }, { 0x02160, 0x0216f, 16, 1 },
	{ 0x02183, 0x02183, 1, 1 }, { 0x024b6, 0x024cf, 26, 1 },
	{ 0x02c00, 0x02c2f, 48, 1 }, { 0x02c60, 0x02c60, 1, 1 },
	{ 0x02c62, 0x02c62, -10743, 1 }, { 0x02c63, 0x02c63, -3814, 1 },
	{ 0x02c64, 0x02c64, -10727, 1 }, { 0x02c67, 0x02c6b, 1, 2 },
	{ 0x02c6d, 0x02c6d, -10780, 1 }, { 0x02c6e, 0x02c6e, -10749, 1 },
	{ 0x02c6f, 0x02c6f, -10783, 1 }, { 0x02c70, 0x02c70, -10782, 1 },
	{ 0x02c72, 0x02c72, 1, 1 }, { 0x02c75, 0x02c75, 1, 1 },
	{ 0x02c7e, 0x02c7f, -10815, 1 }, { 0x02c80, 0x02ce2, 1, 2 },
	{ 0x02ceb, 0x02ced, 1, 2 }, { 0x02cf2, 0x02cf2, 1, 1 },
	{ 0x0a640, 0x0a66c, 1, 2 }, { 0x0a680, 0x0a69a, 1, 2 },
	{ 0x0a722, 0x0a72e, 1, 2 }, { 0x0a732, 0x0a76e, 1, 2 },
	{ 0x0a779, 0x0a77b, 1, 2 }, { 0x0a77d, 0x0a77d, -35332, 1 },
	{ 0x0a77e, 0x0a786, 1, 2 }, { 0x0a78b, 0x0a78b, 1, 1 },
	{ 0x0a78d, 0x0a78d, -42280, 1 }, { 0x0a790, 0x0a792, 1, 2 },
	{ 0x0a796, 0x0a7a8, 1, 2 }, { 0x0a7aa, 0x0a7aa, -42308, 1 },
	{ 0x0a7ab, 0x0a7ab, -42319, 1 }, { 0x0a7ac, 0x0a7ac, -42315, 1 },
	{ 0x0a7ad, 0x0a7ad, -42305, 1 }, { 0x0a7ae, 0x0a7ae, -42308, 1 },
	{ 0x0a7b0, 0x0a7b0, -42258, 1 }, { 0x0a7b1, 0x0a7b1, -42282, 1 },
	{ 0x0a7b2, 0x0a7b2, -42261, 1 }, { 0x0a7b3, 0x0a7b3, 928, 1 },
	{ 0x0a7b4, 0x0a7c2, 1, 2 }, { 0x0a7c4, 0x0a7c4, -48, 1 },
	{ 0x0a7c5, 0x0a7c5, -42307, 1 }, { 0x0a7c6, 0x0a7c6, -35384, 1 },
	{ 0x0a7c7, 0x0a7c9, 1, 2 }, { 0x0a7d0, 0x0a7d0, 1, 1 },
	{ 0x0a7d6, 0x0a7d8, 1, 2 }, { 0x0a7f5, 0x0a7f5, 1, 1 },
	{ 0x0ab70, 0x0abbf, -38864, 1 }, { 0x0ff21, 0x0ff3a, 32, 1 },
	{ 0x10400, 0x10427, 40, 1 }, { 0x104b0, 0x104d3, 40, 1 },
	{ 0x10570, 0x1057a, 39, 1 }, { 0x1057c, 0x1058a, 39, 1 },
	{ 0x1058c, 0x10592, 39, 1 }, { 0x10594, 0x10595, 39, 1 },
	{ 0x10c80, 0x10cb2, 64, 1 }, { 0x118a0, 0x118bf, 32, 1 },
	{ 0x16e40, 0x16e5f, 32, 1 }, { 0x1e900, 0x1e921, 34, 1 },
};

static const struct imap_text_decomp imap_text_decomp_tab[] = {
	{ 0xe0, { 0x61, 0x300, 0 } }, { 0xe1, { 0x61, 0x301, 0 } },
	{ 0xe2, { 0x61, 0x302, 0 } }, { 0xe3, { 0x61, 0x303, 0 } },
	{ 0xe4, { 0x61, 0x308, 0 } }, { 0xe5, { 0x61, 0x30a, 0 } },
	{ 0xe7, { 0x63, 0x327, 0 } }, { 0xe8, { 0x65, 0x300, 0 } },
	{ 0xe9, { 0x65, 0x301, 0 } }, { 0xea, { 0x65, 0x302, 0 } },
	{ 0xeb, { 0x65, 0x308, 0 } }, { 0xec, { 0x69, 0x300, 0 } },
	{ 0xed, { 0x69, 0x301, 0 } }, { 0xee, { 0x69, 0x302, 0 } },
	{ 0xef, { 0x69, 0x308, 0 } }, { 0xf1, { 0x6e, 0x303, 0 } },
	{ 0xf2, { 0x6f, 0x300, 0 } }, { 0xf3, { 0x6f, 0x301, 0 } },
	{ 0xf4, { 0x6f, 0x302, 0 } }, { 0xf5, { 0x6f, 0x303, 0 } },
	{ 0xf6, { 0x6f, 0x308, 0 } }, { 0xf9, { 0x75, 0x300, 0 } },
	{ 0xfa, { 0x75, 0x301, 0 } }, { 0xfb, { 0x75, 0x302, 0 } },
	{ 0xfc, { 0x75, 0x308, 0 } }, { 0xfd, { 0x79, 0x301, 0 } },
	{ 0xff, { 0x79, 0x308, 0 } }, { 0x101, { 0x61, 0x304, 0 } },
	{ 0x103, { 0x61, 0x306, 0 } }, { 0x105, { 0x61, 0x328, 0 } },
	{ 0x107, { 0x63, 0x301, 0 } }, { 0x109, { 0x63, 0x302, 0 } },
	{ 0x10b, { 0x63, 0x307, 0 } }, { 0x10d, { 0x63, 0x30c, 0 } },
	{ 0x10f, { 0x64, 0x30c, 0 } }, { 0x113, { 0x65, 0x304, 0 } },
	{ 0x115, { 0x65, 0x306, 0 } }, { 0x117, { 0x65, 0x307, 0 } },
	{ 0x119, { 0x65, 0x328, 0 } }, { 0x11b, { 0x65, 0x30c, 0 } },
	{ 0x11d, { 0x67, 0x302, 0 } }, { 0x11f, { 0x67, 0x306, 0 } },
	{ 0x121, { 0x67, 0x307, 0 } }, { 0x123, { 0x67, 0x327, 0 } },
	{ 0x125, { 0x68, 0x302, 0 } }, { 0x129, { 0x69, 0x303, 0 } },
	{ 0x12b, { 0x69, 0x304, 0 } }, { 0x12d, { 0x69, 0x306, 0 } },
	{ 0x12f, { 0x69, 0x328, 0 } }, { 0x130, { 0x49, 0x307, 0 } },
	{ 0x135, { 0x6a, 0x302, 0 } }, { 0x137, { 0x6b, 0x327, 0 } },
	{ 0x13a, { 0x6c, 0x301, 0 } }, { 0x13c, { 0x6c, 0x327, 0 } },
	{ 0x13e, { 0x6c, 0x30c, 0 } }, { 0x144, { 0x6e, 0x301, 0 } },
	{ 0x146, { 0x6e, 0x327, 0 } }, { 0x148, { 0x6e, 0x30c, 0 } },
	{ 0x14d, { 0x6f, 0x304, 0 } }, { 0x14f, { 0x6f, 0x306, 0 } },
	{ 0x151, { 0x6f, 0x30b, 0 } }, { 0x155, { 0x72, 0x301, 0 } },
	{ 0x157, { 0x72, 0x327, 0 } }, { 0x159, { 0x72, 0x30c, 0 } },
	{ 0x15b, { 0x73, 0x301, 0 } }, { 0x15d, { 0x73, 0x302, 0 } },
	{ 0x15f, { 0x73, 0x327, 0 } }, { 0x161, { 0x73, 0x30c, 0 } },
	{ 0x163, { 0x74, 0x327, 0 } }, { 0x165, { 0x74, 0x30c, 0 } },
	{ 0x169, { 0x75, 0x303, 0 } }, { 0x16b, { 0x75, 0x304, 0 } },
	{ 0x16d, { 0x75, 0x306, 0 } }, { 0x16f, { 0x75, 0x30a, 0 } },
	{ 0x171, { 0x75, 0x30b, 0 } }, { 0x173, { 0x75, 0x328, 0 } },
	{ 0x175, { 0x77, 0x302, 0 } }, { 0x177, { 0x79, 0x302, 0 } },
	{ 0x17a, { 0x7a, 0x301, 0 } }, { 0x17c, { 0x7a, 0x307, 0 } },
	{ 0x17e, { 0x7a, 0x30c, 0 } }, { 0x1a1, { 0x6f, 0x31b, 0 } },
	{ 0x1b0, { 0x75, 0x31b, 0 } }, { 0x1ce, { 0x61, 0x30c, 0 } },
	{ 0x1d0, { 0x69, 0x30c, 0 } }, { 0x1d2, { 0x6f, 0x30c, 0 } },
	{ 0x1d4, { 0x75, 0x30c, 0 } }, { 0x1d6, { 0x75, 0x308, 0x304 } },
	{ 0x1d8, { 0x75, 0x308, 0x301 } }, { 0x1da, { 0x75, 0x308, 0x30c } },
	{ 0x1dc, { 0x75, 0x308, 0x300 } }, { 0x1df, { 0x61, 0x308, 0x304 } },
	{ 0x1e1, { 0x61, 0x307, 0x304 } }, { 0x1e3, { 0xe6, 0x304, 0 } },
	{ 0x1e7, { 0x67, 0x30c, 0 } }, { 0x1e9, { 0x6b, 0x30c, 0 } },
	{ 0x1eb, { 0x6f, 0x328, 0 } }, { 0x1ed, { 0x6f, 0x328, 0x304 } },
	{ 0x1ef, { 0x292, 0x30c, 0 } }, { 0x1f0, { 0x6a, 0x30c, 0 } },
	{ 0x1f5, { 0x67, 0x301, 0 } }, { 0x1f9, { 0x6e, 0x300, 0 } },
	{ 0x1fb, { 0x61, 0x30a, 0x301 } }, { 0x1fd, { 0xe6, 0x301, 0 } },
	{ 0x1ff, { 0xf8, 0x301, 0 } }, { 0x201, { 0x61, 0x30f, 0 } },
	{ 0x203, { 0x61, 0x311, 0 } }, { 0x205, { 0x65, 0x30f, 0 } },
	{ 0x207, { 0x65, 0x311, 0 } }, { 0x209, { 0x69, 0x30f, 0 } },
	{ 0x20b, { 0x69, 0x311, 0 } }, { 0x20d, { 0x6f, 0x30f, 0 } },
	{ 0x20f, { 0x6f, 0x311, 0 } }, { 0x211, { 0x72, 0x30f, 0 } },
	{ 0x213, { 0x72, 0x311, 0 } }, { 0x215, { 0x75, 0x30f, 0 } },
	{ 0x217, { 0x75, 0x311, 0 } }, { 0x219, { 0x73, 0x326, 0 } },
	{ 0x21b, { 0x74, 0x326, 0 } }, { 0x21f, { 0x68, 0x30c, 0 } },
	{ 0x227, { 0x61, 0x307, 0 } }, { 0x229, { 0x65, 0x327, 0 } },
	{ 0x22b, { 0x6f, 0x308, 0x304 } }, { 0x22d, { 0x6f, 0x303, 0x304 } },
	{ 0x22f, { 0x6f, 0x307, 0 } }, { 0x231, { 0x6f, 0x307, 0x304 } },
	{ 0x233, { 0x79, 0x304, 0 } }, { 0x340, { 0x300, 0, 0 } },
	{ 0x341, { 0x301, 0, 0 } }, { 0x343, { 0x313, 0, 0 } },
	{ 0x344, { 0x308, 0x301, 0 } }, { 0x374, { 0x2b9, 0, 0 } },
	{ 0x37e, { 0x3b, 0, 0 } }, { 0x385, { 0xa8, 0x301, 0 } },
	{ 0x387, { 0xb7, 0, 0 } }, { 0x390, { 0x3b9, 0x308, 0x301 } },
	{ 0x3ac, { 0x3b1, 0x301, 0 } }, { 0x3ad, { 0x3b5, 0x301, 0 } },
	{ 0x3ae, { 0x3b7, 0x301, 0 } }, { 0x3af, { 0x3b9, 0x301, 0 } },
	{ 0x3b0, { 0x3c5, 0x308, 0x301 } }, { 0x3ca, { 0x3b9, 0x308, 0 } },
	{ 0x3cb, { 0x3c5, 0x308, 0 } }, { 0x3cc, { 0x3bf, 0x301, 0 } },
	{ 0x3cd, { 0x3c5, 0x301, 0 } }, { 0x3ce, { 0x3c9, 0x301, 0 } },
	{ 0x3d3, { 0x3d2, 0x301, 0 } }, { 0x3d4, { 0x3d2, 0x308, 0 } },
	{ 0x439, { 0x438, 0x306, 0 } }, { 0x450, { 0x435, 0x300, 0 } },
	{ 0x451, { 0x435, 0x308, 0 } }, { 0x453, { 0x433, 0x301, 0 } },
	{ 0x457, { 0x456, 0x308, 0 } }, { 0x45c, { 0x43a, 0x301, 0 } },
	{ 0x45d, { 0x438, 0x300, 0 } }, { 0x45e, { 0x443, 0x306, 0 } },
	{ 0x477, { 0x475, 0x30f, 0 } }, { 0x4c2, { 0x436, 0x306, 0 } },
	{ 0x4d1, { 0x430, 0x306, 0 } }, { 0x4d3, { 0x430, 0x308, 0 } },
	{ 0x4d7, { 0x435, 0x306, 0 } }, { 0x4db, { 0x4d9, 0x308, 0 } },
	{ 0x4dd, { 0x436, 0x308, 0 } }, { 0x4df, { 0x437, 0x308, 0 } },
	{ 0x4e3, { 0x438, 0x304, 0 } }, { 0x4e5, { 0x438, 0x308, 0 } },
	{ 0x4e7, { 0x43e, 0x308, 0 } }, { 0x4eb, { 0x4e9, 0x308, 0 } },
	{ 0x4ed, { 0x44d, 0x308, 0 } }, { 0x4ef, { 0x443, 0x304, 0 } },
	{ 0x4f1, { 0x443, 0x308, 0 } }, { 0x4f3, { 0x443, 0x30b, 0 } },
	{ 0x4f5, { 0x447, 0x308, 0 } }, { 0x4f9, { 0x44b, 0x308, 0 } },
	{ 0x1e01, { 0x61, 0x325, 0 } }, { 0x1e03, { 0x62, 0x307, 0 } },
	{ 0x1e05, { 0x62, 0x323, 0 } }, { 0x1e07, { 0x62, 0x331, 0 } },
	{ 0x1e09, { 0x63, 0x327, 0x301 } }, { 0x1e0b, { 0x64, 0x307, 0 } },
	{ 0x1e0d, { 0x64, 0x323, 0 } }, { 0x1e0f, { 0x64, 0x331, 0 } },
	{ 0x1e11, { 0x64, 0x327, 0 } }, { 0x1e13, { 0x64, 0x32d, 0 } },
	{ 0x1e15, { 0x65, 0x304, 0x300 } }, { 0x1e17, { 0x65, 0x304, 0x301 } },
	{ 0x1e19, { 0x65, 0x32d, 0 } }, { 0x1e1b, { 0x65, 0x330, 0 } },
	{ 0x1e1d, { 0x65, 0x327, 0x306 } }, { 0x1e1f, { 0x66, 0x307, 0 } },
	{ 0x1e21, { 0x67, 0x304, 0 } }, { 0x1e23, { 0x68, 0x307, 0 } },
	{ 0x1e25, { 0x68, 0x323, 0 } }, { 0x1e27, { 0x68, 0x308, 0 } },
	{ 0x1e29, { 0x68, 0x327, 0 } }, { 0x1e2b, { 0x68, 0x32e, 0 } },
	{ 0x1e2d, { 0x69, 0x330, 0 } }, { 0x1e2f, { 0x69, 0x308, 0x301 } },
	{ 0x1e31, { 0x6b, 0x301, 0 } }, { 0x1e33, { 0x6b, 0x323, 0 } },
	{ 0x1e35, { 0x6b, 0x331, 0 } }, { 0x1e37, { 0x6c, 0x323, 0 } },
	{ 0x1e39, { 0x6c, 0x323, 0x304 } }, { 0x1e3b, { 0x6c, 0x331, 0 } },
	{ 0x1e3d, { 0x6c, 0x32d, 0 } }, { 0x1e3f, { 0x6d, 0x301, 0 } },
	{ 0x1e41, { 0x6d, 0x307, 0 } }, { 0x1e43, { 0x6d, 0x323, 0 } },
	{ 0x1e45, { 0x6e, 0x307, 0 } }, { 0x1e47, { 0x6e, 0x323, 0 } },
	{ 0x1e49, { 0x6e, 0x331, 0 } }, { 0x1e4b, { 0x6e, 0x32d, 0 } },
	{ 0x1e4d, { 0x6f, 0x303, 0x301 } }, { 0x1e4f, { 0x6f, 0x303, 0x308 } },
	{ 0x1e51, { 0x6f, 0x304, 0x300 } }, { 0x1e53, { 0x6f, 0x304, 0x301 } },
	{ 0x1e55, { 0x70, 0x301, 0 } }, { 0x1e57, { 0x70, 0x307, 0 } },
	{ 0x1e59, { 0x72, 0x307, 0 } }, { 0x1e5b, { 0x72, 0x323, 0 } },
	{ 0x1e5d, { 0x72, 0x323, 0x304 } }, { 0x1e5f, { 0x72, 0x331, 0 } },
	{ 0x1e61, { 0x73, 0x307, 0 } }, { 0x1e63, { 0x73, 0x323, 0 } },
	{ 0x1e65, { 0x73, 0x301, 0x307 } }, { 0x1e67, { 0x73, 0x30c, 0x307 } },
	{ 0x1e69, { 0x73, 0x323, 0x307 } }, { 0x1e6b, { 0x74, 0x307, 0 } },
	{ 0x1e6d, { 0x74, 0x323, 0 } }, { 0x1e6f, { 0x74, 0x331, 0 } },
	{ 0x1e71, { 0x74, 0x32d, 0 } }, { 0x1e73, { 0x75, 0x324, 0 } },
	{ 0x1e75, { 0x75, 0x330, 0 } }, { 0x1e77, { 0x75, 0x32d, 0 } },
	{ 0x1e79, { 0x75, 0x303, 0x301 } }, { 0x1e7b, { 0x75, 0x304, 0x308 } },
	{ 0x1e7d, { 0x76, 0x303, 0 } }, { 0x1e7f, { 0x76, 0x323, 0 } },
	{ 0x1e81, { 0x77, 0x300, 0 } }, { 0x1e83, { 0x77, 0x301, 0 } },
	{ 0x1e85, { 0x77, 0x308, 0 } }, { 0x1e87, { 0x77, 0x307, 0 } },
	{ 0x1e89, { 0x77, 0x323, 0 } }, { 0x1e8b, { 0x78, 0x307, 0 } },
	{ 0x1e8d, { 0x78, 0x308, 0 } }, { 0x1e8f, { 0x79, 0x307, 0 } },
	{ 0x1e91, { 0x7a, 0x302, 0 } }, { 0x1e93, { 0x7a, 0x323, 0 } },
	{ 0x1e95, { 0x7a, 0x331, 0 } }, { 0x1e96, { 0x68, 0x331, 0 } },
	{ 0x1e97, { 0x74, 0x308, 0 } }, { 0x1e98, { 0x77, 0x30a, 0 } },
	{ 0x1e99, { 0x79, 0x30a, 0 } }, { 0x1ea1, { 0x61, 0x323, 0 } },
	{ 0x1ea3, { 0x61, 0x309, 0 } }, { 0x1ea5, { 0x61, 0x302, 0x301 } },
	{ 0x1ea7, { 0x61, 0x302, 0x300 } }, { 0x1ea9, { 0x61, 0x302, 0x309 } },
	{ 0x1eab, { 0x61, 0x302, 0x303 } }, { 0x1ead, { 0x61, 0x323, 0x302 } },
	{ 0x1eaf, { 0x61, 0x306, 0x301 } }, { 0x1eb1, { 0x61, 0x306, 0x300 } },
	{ 0x1eb3, { 0x61, 0x306, 0x309 } }, { 0x1eb5, { 0x61, 0x306, 0x303 } },
	{ 0x1eb7, { 0x61, 0x323, 0x306 } }, { 0x1eb9, { 0x65, 0x323, 0 } },
	{ 0x1ebb, { 0x65, 0x309, 0 } }, { 0x1ebd, { 0x65, 0x303, 0 } },
	{ 0x1ebf, { 0x65, 0x302, 0x301 } }, { 0x1ec1, { 0x65, 0x302, 0x300 } },
	{ 0x1ec3, { 0x65, 0x302, 0x309 } }, { 0x1ec5, { 0x65, 0x302, 0x303 } },
	{ 0x1ec7, { 0x65, 0x323, 0x302 } }, { 0x1ec9, { 0x69, 0x309, 0 } },
	{ 0x1ecb, { 0x69, 0x323, 0 } }, { 0x1ecd, { 0x6f, 0x323, 0 } },
	{ 0x1ecf, { 0x6f, 0x309, 0 } }, { 0x1ed1, { 0x6f, 0x302, 0x301 } },
	{ 0x1ed3, { 0x6f, 0x302, 0x300 } }, { 0x1ed5, { 0x6f, 0x302, 0x309 } },
	{ 0x1ed7, { 0x6f, 0x302, 0x303 } }, { 0x1ed9, { 0x6f, 0x323, 0x302 } },
	{ 0x1edb, { 0x6f, 0x31b, 0x301 } }, { 0x1edd, { 0x6f, 0x31b, 0x300 } },
	{ 0x1edf, { 0x6f, 0x31b, 0x309 } }, { 0x1ee1, { 0x6f, 0x31b, 0x303 } },
	{ 0x1ee3, { 0x6f, 0x31b, 0x323 } }, { 0x1ee5, { 0x75, 0x323, 0 } },
	{ 0x1ee7, { 0x75, 0x309, 0 } }, { 0x1ee9, { 0x75, 0x31b, 0x301 } },
	{ 0x1eeb, { 0x75, 0x31b, 0x300 } }, { 0x1eed, { 0x75, 0x31b, 0x309 } },
	{ 0x1eef, { 0x75, 0x31b, 0x303 } }, { 0x1ef1, { 0x75, 0x31b, 0x323 } },
	{ 0x1ef3, { 0x79, 0x300, 0 } }, { 0x1ef5, { 0x79, 0x323, 0 } },
	{ 0x1ef7, { 0x79, 0x309, 0 } }, { 0x1ef9, { 0x79, 0x303, 0 } },
};

#define IMAP_TEXT_IS_SPACE(c) \
	((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n')

/* ---- UTF-8 ---- */

/*
 * The length of the valid UTF-8 sequence at p[0..n) and its code point,
 * or 0 when p[0] does not start one (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF).
 */
static size_t
imap_text_utf8_next(const uint8_t *p, size_t n, uint32_t *cp_r)
{
	uint8_t b = p[0], lo = 0x80, hi = 0xbf;
	size_t len;
	uint32_t cp;

	if (b < 0x80) {
		*cp_r = b;
		return 1;
	}
	if (b >= 0xc2 && b <= 0xdf) {
		len = 2;
		cp = b & 0x1f;
	} else if (b >= 0xe0 && b <= 0xef) {
		len = 3;
		cp = b & 0x0f;
		if (b == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (b == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (b >= 0xf0 && b <= 0xf4) {
		len = 4;
		cp = b & 0x07;
		if (b == 0xf0)
			lo = 0x90;	/* overlong */
		else if (b == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return 0;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if (i > 1 && (p[i] < 0x80 || p[i] > 0xbf))
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	*cp_r = cp;
	return len;
}

static void
imap_text_put_cp(struct mail_buf *out, uint32_t cp)
{
	uint8_t t[4];
	size_t n;

	if (cp < 0x80) {
		t[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		t[0] = (uint8_t)(0xc0 | (cp >> 6));
		t[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		t[0] = (uint8_t)(0xe0 | (cp >> 12));
		t[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		t[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		t[0] = (uint8_t)(0xf0 | (cp >> 18));
		t[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		t[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		t[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	mail_buf_append(out, t, n);
}

void
imap_text_sanitize(const uint8_t *p, size_t n, struct mail_buf *out)
{
	size_t i = 0, len;
	uint32_t cp;

	mail_buf_reserve(out, n);
	while (i < n) {
		if (p[i] == '\0' ||
		    (len = imap_text_utf8_next(p + i, n - i, &cp)) == 0) {
			mail_buf_append(out, "\xef\xbf\xbd", 3);
			i++;
			continue;
		}
		mail_buf_append(out, p + i, len);
		i += len;
	}
	out->data[out->len] = '\0';	/* reserved above, even for n == 0 */
}

/* ---- case folding and sort keys ---- */

uint32_t
imap_text_fold_cp(uint32_t cp)
{
	size_t lo = 0, hi = N_ELEMENTS(imap_text_fold_tab);
	const struct imap_text_fold_range *r;

	if (cp < 0x80)
		return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		r = &imap_text_fold_tab[mid];
		if (cp < r->lo)
			hi = mid;
		else if (cp > r->hi)
			lo = mid + 1;
		else {
			if ((cp - r->lo) % r->step != 0)
				return cp;
			return (uint32_t)((int32_t)cp + r->delta);
		}
	}
	return cp;
}

static const struct imap_text_decomp *
imap_text_decomp_get(uint32_t cp)
{
	size_t lo = 0, hi = N_ELEMENTS(imap_text_decomp_tab);

	if (cp < imap_text_decomp_tab[0].cp || cp > 0xffff)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cp < imap_text_decomp_tab[mid].cp)
			hi = mid;
		else if (cp > imap_text_decomp_tab[mid].cp)
			lo = mid + 1;
		else
			return &imap_text_decomp_tab[mid];
	}
	return NULL;
}

void
imap_text_fold(const uint8_t *p, size_t n, struct mail_buf *out)
{
	const struct imap_text_decomp *d;
	size_t i = 0, j, len;
	uint8_t *o;
	uint32_t cp;

	mail_buf_reserve(out, n);
	while (i < n) {
		/* ASCII runs are most of any text: fold them in a tight
		 * loop. */
		if (p[i] < 0x80) {
			for (j = i; j < n && p[j] < 0x80; j++)
				;
			mail_buf_reserve(out, j - i);
			o = out->data + out->len;
			for (; i < j; i++)
				*o++ = p[i] >= 'A' && p[i] <= 'Z' ?
				    (uint8_t)(p[i] + 32) : p[i];
			out->len = (size_t)(o - out->data);
			continue;
		}
		if ((len = imap_text_utf8_next(p + i, n - i, &cp)) == 0) {
			mail_buf_append(out, p + i, 1);
			i++;
			continue;
		}
		i += len;
		cp = imap_text_fold_cp(cp);
		if ((d = imap_text_decomp_get(cp)) == NULL) {
			imap_text_put_cp(out, cp);
			continue;
		}
		for (size_t k = 0; k < 3 && d->d[k] != 0; k++)
			imap_text_put_cp(out, d->d[k]);
	}
	out->data[out->len] = '\0';	/* reserved above, even for n == 0 */
}

void
imap_text_sortkey(const uint8_t *p, size_t n, struct mail_buf *out)
{
	size_t start = out->len;

	imap_text_fold(p, n, out);
	/* i;ascii-casemap compares upper case: "_" (0x5f) sorts after
	 * "Z" and before "a" there, so fold back ASCII letters. */
	for (size_t i = start; i < out->len; i++) {
		if (out->data[i] >= 'a' && out->data[i] <= 'z')
			out->data[i] -= 32;
	}
}

/* ---- charsets ---- */

enum imap_text_cs {
	IMAP_TEXT_CS_RAW,	/* UTF-8, ASCII or none: copy */
	IMAP_TEXT_CS_LATIN1,	/* ISO-8859-1: every byte is its code point */
	IMAP_TEXT_CS_ICONV,
	IMAP_TEXT_CS_UNKNOWN,	/* copy raw */
};

void
imap_text_conv_init(struct imap_text_conv *c)
{
	memset(c, 0, sizeof(*c));
}

void
imap_text_conv_free(struct imap_text_conv *c)
{
	for (unsigned i = 0; i < c->n; i++) {
		if (c->slot[i].cd != NULL)
			iconv_close((iconv_t)c->slot[i].cd);
	}
	c->n = 0;
}

static bool
imap_text_name_is(const char *name, const char *const *list)
{
	for (size_t i = 0; list[i] != NULL; i++) {
		if (strcmp(name, list[i]) == 0)
			return true;
	}
	return false;
}

/*
 * Classify charset name[0..len), opening an iconv descriptor when it is
 * neither of the built-in ones. Names are case-insensitive (RFC 2046
 * 4.1.2); an RFC 2231 language suffix ("utf-8*en") is dropped. Only
 * letters, digits and "-_.:+()" are accepted, so iconv never sees a
 * path or its "//" options.
 */
static enum imap_text_cs
imap_text_charset(struct imap_text_conv *c, const char *name, size_t len,
    iconv_t *cd_r)
{
	static const char *const raw[] = { "utf-8", "utf8", "us-ascii",
	    "ascii", "ansi_x3.4-1968", "us", "iso646-us", NULL };
	static const char *const latin1[] = { "iso-8859-1", "iso8859-1",
	    "iso_8859-1", "latin1", "l1", "iso-ir-100", "cp819", NULL };
	char low[IMAP_TEXT_CHARSET_MAX + 1];
	unsigned i;
	iconv_t cd;

	if (name == NULL)
		return IMAP_TEXT_CS_RAW;
	for (i = 0; i < len && name[i] != '*'; i++) {
		char ch = name[i];

		if (i == IMAP_TEXT_CHARSET_MAX)
			return IMAP_TEXT_CS_UNKNOWN;
		if (ch >= 'A' && ch <= 'Z')
			ch += 32;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    strchr("-_.:+()", ch) != NULL) || ch == '\0')
			return IMAP_TEXT_CS_UNKNOWN;
		low[i] = ch;
	}
	low[i] = '\0';
	if (i == 0 || imap_text_name_is(low, raw))
		return IMAP_TEXT_CS_RAW;
	if (imap_text_name_is(low, latin1))
		return IMAP_TEXT_CS_LATIN1;

	for (i = 0; i < c->n; i++) {
		if (strcmp(c->slot[i].name, low) == 0)
			break;
	}
	if (i == c->n) {
		/* Full: the oldest descriptor makes room. A message or
		 * command with more than a few charsets is rare. */
		if (c->n == IMAP_TEXT_CONV_SLOTS) {
			if (c->slot[0].cd != NULL)
				iconv_close((iconv_t)c->slot[0].cd);
			memmove(&c->slot[0], &c->slot[1],
			    sizeof(c->slot[0]) * (IMAP_TEXT_CONV_SLOTS - 1));
			c->n--;
			i = c->n;
		}
		memcpy(c->slot[i].name, low, strlen(low) + 1);
		cd = iconv_open("UTF-8", low);
		c->slot[i].cd = cd == (iconv_t)-1 ? NULL : (void *)cd;
		c->n++;
	}
	if (c->slot[i].cd == NULL)
		return IMAP_TEXT_CS_UNKNOWN;
	*cd_r = (iconv_t)c->slot[i].cd;
	return IMAP_TEXT_CS_ICONV;
}

/*
 * Convert with cd, copying each byte iconv rejects (EILSEQ) and a
 * truncated sequence at the end (EINVAL) as it is and going on after it
 * from the initial shift state.
 */
static void
imap_text_iconv(iconv_t cd, const uint8_t *p, size_t n, struct mail_buf *out)
{
	/* iconv's prototype predates const; it never writes the input. */
	char *in = (char *)(uintptr_t)p, *o;
	size_t inleft = n, oleft, r;

	mail_buf_reserve(out, n);	/* allocated even when n == 0 */
	(void)iconv(cd, NULL, NULL, NULL, NULL);
	while (inleft > 0) {
		mail_buf_reserve(out, inleft * 2 + 16);
		o = (char *)out->data + out->len;
		oleft = out->cap - out->len - 1;
		r = iconv(cd, &in, &inleft, &o, &oleft);
		out->len = (size_t)((uint8_t *)o - out->data);
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		mail_buf_append(out, in, 1);
		in++;
		inleft--;
		(void)iconv(cd, NULL, NULL, NULL, NULL);
	}
	out->data[out->len] = '\0';
}

void
imap_text_to_utf8(struct imap_text_conv *c, const char *charset,
    size_t charset_len, const uint8_t *p, size_t n, struct mail_buf *out)
{
	iconv_t cd = (iconv_t)-1;

	switch (imap_text_charset(c, charset, charset_len, &cd)) {
	case IMAP_TEXT_CS_LATIN1:
		mail_buf_reserve(out, n * 2);
		for (size_t i = 0; i < n; i++)
			imap_text_put_cp(out, p[i]);
		break;
	case IMAP_TEXT_CS_ICONV:
		imap_text_iconv(cd, p, n, out);
		break;
	case IMAP_TEXT_CS_RAW:
	case IMAP_TEXT_CS_UNKNOWN:
		mail_buf_append(out, p, n);
		break;
	}
}

/* ---- RFC 2047 encoded-words ---- */

struct imap_text_word {
	const char *charset;	/* not NUL-terminated */
	size_t	 charset_len;
	char	 enc;		/* 'b' or 'q' */
	const char *text;
	size_t	 text_len;
	const char *end;	/* after "?=" */
};

/* Parse "=?charset?enc?text?=" at p (RFC 2047 2). Encoded text holds no
 * whitespace and no '?'; the charset (with an RFC 2231 language) is a
 * token. Returns false if p does not start a well-formed word. */
static bool
imap_text_word_parse(const char *p, struct imap_text_word *w)
{
	const char *s;

	if (p[0] != '=' || p[1] != '?')
		return false;
	w->charset = s = p + 2;
	while (*s != '\0' && *s != '?' && !IMAP_TEXT_IS_SPACE(*s) &&
	    strchr("()<>@,;:\"/[].=", *s) == NULL)
		s++;
	w->charset_len = (size_t)(s - w->charset);
	if (*s != '?' || w->charset_len == 0)
		return false;
	s++;
	if (*s == 'B' || *s == 'b')
		w->enc = 'b';
	else if (*s == 'Q' || *s == 'q')
		w->enc = 'q';
	else
		return false;
	if (s[1] != '?')
		return false;
	w->text = s += 2;
	while (*s != '\0' && *s != '?' && !IMAP_TEXT_IS_SPACE(*s))
		s++;
	if (s[0] != '?' || s[1] != '=')
		return false;
	w->text_len = (size_t)(s - w->text);
	w->end = s + 2;
	return true;
}

static void
imap_text_word_decode(const struct imap_text_word *w, struct mail_buf *out)
{
	const char *t = w->text;
	int h1, h2;

	if (w->enc == 'b') {
		mail_mime_decode_base64((const uint8_t *)t, w->text_len, out);
		return;
	}
	/* Q (RFC 2047 4.2): "_" is a space, "=XX" a byte; a bad escape
	 * stays as it is. */
	for (size_t i = 0; i < w->text_len; i++) {
		uint8_t c = (uint8_t)t[i];

		if (c == '_')
			c = ' ';
		else if (c == '=' && i + 2 < w->text_len &&
		    (h1 = mail_hex_value(t[i + 1])) >= 0 &&
		    (h2 = mail_hex_value(t[i + 2])) >= 0) {
			c = (uint8_t)(h1 << 4 | h2);
			i += 2;
		}
		mail_buf_append(out, &c, 1);
	}
}

/* Convert the joined bytes of a run of words and append them; decoded
 * NULs become U+FFFD (the text ends up in C strings). */
static void
imap_text_flush_run(struct imap_text_conv *c, const struct imap_text_word *w,
    struct mail_buf *run, struct mail_buf *out)
{
	size_t start = out->len;

	if (run->len == 0)
		return;
	imap_text_to_utf8(c, w->charset, w->charset_len, run->data, run->len,
	    out);
	mail_buf_reset(run);
	for (size_t i = start; i < out->len; i++) {
		if (out->data[i] == '\0') {
			mail_buf_reserve(out, 2);
			memmove(out->data + i + 3, out->data + i + 1,
			    out->len - i - 1);
			memcpy(out->data + i, "\xef\xbf\xbd", 3);
			out->len += 2;
			out->data[out->len] = '\0';
			i += 2;
		}
	}
}

static bool
imap_text_all_space(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!IMAP_TEXT_IS_SPACE(p[i]))
			return false;
	}
	return true;
}

void
imap_text_decode_words(struct imap_text_conv *c, const char *value,
    struct mail_buf *out)
{
	struct mail_buf run = MAIL_BUF_INIT;
	struct imap_text_word w, prev;
	const char *p = value, *gap = value, *q;
	iconv_t cd;
	bool in_run = false;

	while ((q = strstr(p, "=?")) != NULL) {
		if (!imap_text_word_parse(q, &w) ||
		    imap_text_charset(c, w.charset, w.charset_len, &cd) ==
		    IMAP_TEXT_CS_UNKNOWN) {
			/* Not a word we can decode: plain text. */
			p = q + 1;
			continue;
		}
		/* RFC 2047 6.2: whitespace between adjacent encoded-words
		 * is not shown. Words of one charset are joined before
		 * conversion, since senders split multibyte characters. */
		if (in_run && imap_text_all_space(gap, (size_t)(q - gap)) &&
		    prev.charset_len == w.charset_len &&
		    strncasecmp(prev.charset, w.charset, w.charset_len) == 0) {
			imap_text_word_decode(&w, &run);
		} else {
			if (in_run)
				imap_text_flush_run(c, &prev, &run, out);
			if (!in_run || !imap_text_all_space(gap,
			    (size_t)(q - gap)))
				mail_buf_append(out, gap, (size_t)(q - gap));
			imap_text_word_decode(&w, &run);
		}
		in_run = true;
		prev = w;
		p = gap = w.end;
	}
	if (in_run)
		imap_text_flush_run(c, &prev, &run, out);
	mail_buf_append(out, gap, strlen(gap));
	mail_buf_free(&run);
}

/* ---- headers and dates ---- */

struct mail_headers *
imap_text_headers(const uint8_t *msg, size_t len)
{
	struct mail_headers *h = NULL;
	struct mail_err err;
	size_t n = len;

	/* Over the limits (MAIL_ERR_LIMIT is the only failure), parse a
	 * prefix: at most the size limit, then halving; 0 bytes always
	 * parse. The cut field at the end may be partial, which is fine
	 * for a header nobody could have meant. */
	while (mail_header_parse(msg, n, &h, &err) < 0) {
		if (n > MAIL_HEADER_MAX_SIZE)
			n = MAIL_HEADER_MAX_SIZE;
		else
			n /= 2;
	}
	return h;
}

int64_t
imap_text_sent_date(const struct mail_headers *h, int64_t idate)
{
	const char *v = mail_header_get(h, "Date");
	int64_t t;

	if (v == NULL || mail_header_parse_date(v, &t) < 0)
		return idate;
	return t;
}

int64_t
imap_text_days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	/* The year starts in March so the leap day comes last; a 400-year
	 * era then has a fixed 146097 days. */
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Skip whitespace and (nested) comments. */
static const char *
imap_text_skip_cfws(const char *p)
{
	unsigned depth;

	for (;;) {
		while (IMAP_TEXT_IS_SPACE(*p))
			p++;
		if (*p != '(')
			return p;
		depth = 0;
		while (*p != '\0') {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
			p++;
		}
	}
}

static bool
imap_text_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool
imap_text_date_written(const char *value, int64_t *days_r)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	const char *p;
	int64_t t;
	int day = 0, mon = -1, year = 0, ndig = 0;

	/* mail_header_parse_date() decides what is a date; the date part
	 * is then read again here, as written. */
	if (mail_header_parse_date(value, &t) < 0)
		return false;
	p = imap_text_skip_cfws(value);
	if (imap_text_is_alpha(*p)) {		/* day of week */
		while (imap_text_is_alpha(*p))
			p++;
		p = imap_text_skip_cfws(p);
		if (*p == ',')
			p = imap_text_skip_cfws(p + 1);
	}
	while (*p >= '0' && *p <= '9')
		day = day * 10 + (*p++ - '0');
	p = imap_text_skip_cfws(p);
	for (int i = 0; i < 12; i++) {
		if (strncasecmp(p, months + 3 * i, 3) == 0)
			mon = i + 1;
	}
	while (imap_text_is_alpha(*p))
		p++;
	p = imap_text_skip_cfws(p);
	while (*p >= '0' && *p <= '9' && ndig < 4) {
		year = year * 10 + (*p++ - '0');
		ndig++;
	}
	/* RFC 5322 4.3, as mail_header_parse_date() reads it. */
	if (ndig == 2)
		year += year < 50 ? 2000 : 1900;
	else if (ndig == 3)
		year += 1900;
	if (mon < 0 || day < 1 || day > 31)
		return false;
	*days_r = imap_text_days_from_civil(year, mon, day);
	return true;
}

/* ---- addresses ---- */

enum imap_text_tok {
	IMAP_TEXT_TOK_END,
	IMAP_TEXT_TOK_WORD,	/* atom, quoted-string or domain-literal */
	IMAP_TEXT_TOK_SPECIAL,	/* one of < > @ , : ; */
};

struct imap_text_lexer {
	const char *p;
	struct mail_buf word;	/* the last word, unquoted */
	struct mail_buf comment; /* the last comment since reset */
	bool	 quoted;	/* the last word was a quoted-string */
	bool	 space_before;	/* CFWS came before the last token */
};

/* Skip CFWS, keeping the text of the last top-level comment. */
static void
imap_text_lex_cfws(struct imap_text_lexer *lx)
{
	const char *p = lx->p;
	unsigned depth;

	lx->space_before = false;
	for (;;) {
		while (IMAP_TEXT_IS_SPACE(*p)) {
			p++;
			lx->space_before = true;
		}
		if (*p != '(')
			break;
		lx->space_before = true;
		mail_buf_reset(&lx->comment);
		depth = 1;
		p++;
		while (*p != '\0') {
			if (*p == '\\' && p[1] != '\0') {
				mail_buf_append(&lx->comment, p + 1, 1);
				p += 2;
				continue;
			}
			if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0)
				break;
			mail_buf_append(&lx->comment, p, 1);
			p++;
		}
		if (*p == ')')
			p++;
	}
	lx->p = p;
}

static enum imap_text_tok
imap_text_lex(struct imap_text_lexer *lx, char *special_r)
{
	const char *p;

	imap_text_lex_cfws(lx);
	p = lx->p;
	mail_buf_reset(&lx->word);
	lx->quoted = false;
	if (*p == '\0')
		return IMAP_TEXT_TOK_END;
	if (strchr("<>@,:;", *p) != NULL) {
		*special_r = *p;
		lx->p = p + 1;
		return IMAP_TEXT_TOK_SPECIAL;
	}
	if (*p == '"') {
		lx->quoted = true;
		for (p++; *p != '\0' && *p != '"'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			/* Folding inside a quoted-string is not part of
			 * it (RFC 5322 3.2.4); unfolded values keep no
			 * CR or LF anyway. */
			if (*p != '\r' && *p != '\n')
				mail_buf_append(&lx->word, p, 1);
		}
		lx->p = *p == '"' ? p + 1 : p;
		return IMAP_TEXT_TOK_WORD;
	}
	if (*p == '[') {
		while (*p != '\0' && *p != ']')
			mail_buf_append(&lx->word, p++, 1);
		if (*p == ']')
			mail_buf_append(&lx->word, p++, 1);
		lx->p = p;
		return IMAP_TEXT_TOK_WORD;
	}
	/* An atom; '.' is taken in, so "a.b" and "J. Doe" are one word
	 * each (obs-phrase and dot-atom alike). */
	while (*p != '\0' && !IMAP_TEXT_IS_SPACE(*p) &&
	    strchr("<>@,:;\"()[", *p) == NULL)
		mail_buf_append(&lx->word, p++, 1);
	if (lx->word.len == 0) {
		/* A stray ']' or ')': skip it. */
		lx->p = p + 1;
		return imap_text_lex(lx, special_r);
	}
	lx->p = p;
	return IMAP_TEXT_TOK_WORD;
}

void
imap_text_addr_free(struct imap_text_addr *a)
{
	mail_buf_free(&a->name);
	mail_buf_free(&a->mailbox);
	mail_buf_free(&a->domain);
}

/* Read the domain after '@' into a->domain (reset first), up to the end,
 * ',', ';', '>' or stop. */
static void
imap_text_addr_domain(struct imap_text_lexer *lx, struct imap_text_addr *a,
    char stop)
{
	enum imap_text_tok t;
	char sp = 0;

	mail_buf_reset(&a->domain);
	while ((t = imap_text_lex(lx, &sp)) != IMAP_TEXT_TOK_END) {
		if (t == IMAP_TEXT_TOK_SPECIAL) {
			if (sp == stop || sp == ',' || sp == ';' || sp == '>')
				return;
			continue;
		}
		mail_buf_append(&a->domain, lx->word.data, lx->word.len);
	}
}

/* The inside of "<...>" after the '<': an optional obsolete route
 * ("@a,@b:"), then local@domain. */
static void
imap_text_addr_angle(struct imap_text_lexer *lx, struct imap_text_addr *a)
{
	enum imap_text_tok t;
	char sp = 0;

	while ((t = imap_text_lex(lx, &sp)) != IMAP_TEXT_TOK_END) {
		if (t == IMAP_TEXT_TOK_WORD) {
			mail_buf_append(&a->mailbox, lx->word.data,
			    lx->word.len);
			continue;
		}
		if (sp == '>')
			break;
		if (sp == ':') {		/* end of a route */
			mail_buf_reset(&a->mailbox);
			mail_buf_reset(&a->domain);
		} else if (sp == '@' && a->mailbox.len == 0) {
			imap_text_addr_domain(lx, a, ':');
			mail_buf_reset(&a->domain);
		} else if (sp == '@') {
			imap_text_addr_domain(lx, a, '>');
			break;
		}
	}
}

static bool
imap_text_ends_dot(const struct mail_buf *b)
{
	return b->len > 0 && b->data[b->len - 1] == '.';
}

void
imap_text_first_addr(const char *value, struct imap_text_addr *a)
{
	struct imap_text_lexer lx = { value, MAIL_BUF_INIT, MAIL_BUF_INIT,
	    false, false };
	struct mail_buf phrase = MAIL_BUF_INIT, lead = MAIL_BUF_INIT;
	struct mail_buf tight = MAIL_BUF_INIT;
	enum imap_text_tok t;
	char sp = 0;

	a->found = false;
	a->group = false;
	mail_buf_reset(&a->name);
	mail_buf_reset(&a->mailbox);
	mail_buf_reset(&a->domain);
	for (;;) {
		t = imap_text_lex(&lx, &sp);
		if (t == IMAP_TEXT_TOK_WORD) {
			/* phrase: the words as displayed, one space apart;
			 * tight: the words run together, as a local part
			 * where CFWS means nothing ("john . doe"). Words
			 * apart without a dot between them start a new
			 * local part and make the earlier ones display
			 * text: "John Doe john@example.com" misses its
			 * angle brackets. */
			if (tight.len > 0 && lx.space_before &&
			    !imap_text_ends_dot(&tight) &&
			    lx.word.len > 0 && lx.word.data[0] != '.') {
				mail_buf_reset(&lead);
				mail_buf_append(&lead, phrase.data,
				    phrase.len);
				mail_buf_reset(&tight);
			}
			if (phrase.len > 0)
				mail_buf_append(&phrase, " ", 1);
			mail_buf_append(&phrase, lx.word.data, lx.word.len);
			mail_buf_append(&tight, lx.word.data, lx.word.len);
			continue;
		}
		if (t == IMAP_TEXT_TOK_END || sp == ',' || sp == ';' ||
		    sp == '>') {
			/* Words without '@': a mailbox without domain, as
			 * the ENVELOPE shows it. Empty elements of the
			 * list ("a,,b") are skipped. */
			if (phrase.len > 0) {
				mail_buf_append(&a->mailbox, phrase.data,
				    phrase.len);
				a->found = true;
				break;
			}
			if (t == IMAP_TEXT_TOK_END)
				break;
			mail_buf_reset(&lx.comment);
			continue;
		}
		if (sp == ':') {
			/* A group (RFC 5322 3.4): the ENVELOPE's first
			 * "address" is the group's start, whose mailbox
			 * is the group name. */
			mail_buf_append(&a->mailbox, phrase.data, phrase.len);
			a->group = true;
		} else if (sp == '@') {
			/* An addr-spec; a comment names it, or the words
			 * before its local part. */
			mail_buf_append(&a->mailbox, tight.data, tight.len);
			imap_text_addr_domain(&lx, a, ',');
			if (lead.len > 0)
				mail_buf_append(&a->name, lead.data, lead.len);
			else
				mail_buf_append(&a->name, lx.comment.data,
				    lx.comment.len);
		} else {			/* '<': name-addr */
			mail_buf_append(&a->name, phrase.data, phrase.len);
			imap_text_addr_angle(&lx, a);
		}
		a->found = true;
		break;
	}
	mail_buf_free(&phrase);
	mail_buf_free(&lead);
	mail_buf_free(&tight);
	mail_buf_free(&lx.word);
	mail_buf_free(&lx.comment);
}
