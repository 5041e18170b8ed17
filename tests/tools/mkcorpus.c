/*
 * mkcorpus.c: deterministic generator of a realistic Maildir++ mail corpus,
 * shared by the demo, the integration tests and the benchmarks that compare
 * our tools with Dovecot on the same bytes.
 *
 * Determinism contract. Message i of a user is a pure function of (seed,
 * user, i): it never depends on -n, --folders or on which other messages
 * were generated, so `mkcorpus --single -s S -i I` prints exactly the bytes
 * of message I (0-based) of user1 in a tree made with -s S. Placement, flags
 * and file names use their own PRNG streams and never move message bytes.
 * No floating point, rand(), locale or TZ: dates are formatted from a fixed
 * "now" (MK_END) with gmtime_r(), so every libc and libm agrees. Never pass
 * two PRNG draws as arguments of one call: C leaves their order unspecified.
 *
 * Threads without state: message i may reply to p = i - 1 - k (k < 64).
 * What a reply needs from its ancestors (Message-ID, subject, sender, date,
 * folder, the text it quotes) is recomputed by walking that chain, which is
 * short (expected length 1.5) and ends because p < i.
 *
 * Output, as Dovecot writes Maildir++:
 *   OUTDIR/userN/{cur,new,tmp}         INBOX
 *   OUTDIR/userN/.A.B/{cur,new,tmp}    folder A/B; name in modified UTF-7
 *                                      (RFC 3501 5.1.3); "maildirfolder"
 *   cur/TIME.M<usec>P<pid>.<host>,S=<size>:2,<flags>
 *   new/TIME.M<usec>P<pid>.<host>,S=<size>      (unseen, untouched)
 *   dovecot-keywords    "<n> <keyword>": flag letter 'a' + n, per folder,
 *                       numbered in order of first use as Dovecot does
 *   dovecot-uidlist     only with --uidlist (version 3)
 * Files use LF line ends, mode 0600 and mtime = delivery time, because
 * Dovecot takes INTERNALDATE from the mtime.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mail_buf.h"
#include "mail_util.h"

#define MK_END         1767225600LL /* fixed "now": 2026-01-01T00:00:00Z */
#define MK_SPAN        (3LL * 365 * 86400) /* dates cover 3 years */
#define MK_NPEOPLE     400                 /* correspondents per seed ... */
#define MK_NCLOSE      40                  /* ... of which frequent contacts */
#define MK_POOL        24                  /* attachments shared by messages */
#define MK_MAX_FOLDERS 1000

/* Person ids: ordinary people are below MK_BRAND. */
#define MK_BRAND 0x20000000U /* + newsletter sender index */
#define MK_SPAM  0x30000000U /* + random 24 bits */
#define MK_LIST  0x40000000U /* + mailing list index */
#define MK_SELF  0x50000000U /* the mailbox owner */

/* One PRNG stream per purpose, so e.g. flags never shift message bytes. */
enum mk_stream {
	MK_ST_SKEL = 1,
	MK_ST_TEXT,
	MK_ST_BODY,
	MK_ST_HDR,
	MK_ST_FLAGS,
	MK_ST_PERSON,
	MK_ST_SELF,
	MK_ST_POOL,
	MK_ST_UIDL
};

/* splitmix64: tiny, fast, and good enough for test data. */
struct mk_rng {
	uint64_t s;
};

static uint64_t
mk_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
mk_rng_init(struct mk_rng *r, uint64_t seed, uint64_t stream, uint64_t idx)
{
	r->s = mk_mix(mk_mix(seed ^ (stream * 0xd1b54a32d192ed03ULL)) +
	    idx * 0x9e3779b97f4a7c15ULL);
}

static uint64_t
mk_next(struct mk_rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return mk_mix(r->s);
}

static uint32_t
mk_below(struct mk_rng *r, uint64_t n)
{
	return n == 0 ? 0 : (uint32_t)(mk_next(r) % n);
}

#define mk_pct(r)     mk_below((r), 100)
#define MK_PICK(r, a) ((a)[mk_below((r), N_ELEMENTS(a))])

/* Roughly log-uniform in [lo, hi): a uniform octave, then uniform within.
 * Real size distributions look like this (many small, a long tail). */
static size_t
mk_logrange(struct mk_rng *r, size_t lo, size_t hi)
{
	unsigned oct = 0;
	size_t base;

	while ((lo << (oct + 1)) <= hi)
		oct++;
	if (oct == 0)
		return lo + mk_below(r, hi - lo);
	base = lo << mk_below(r, oct);
	return base + mk_below(r, base);
}

/* ---- the world: folders, lists, clients, people, words ---- */

enum mk_kind {
	MK_INBOX,
	MK_SENT,
	MK_DRAFTS,
	MK_TRASH,
	MK_JUNK,
	MK_ARCHIVE,
	MK_PROJECT,
	MK_LISTS
};

/* --folders N keeps the first N; messages of the others go to INBOX. */
static const struct mk_folder_def {
	const char *name; /* UTF-8, '/' separated */
	enum mk_kind kind;
	unsigned weight; /* per mille of a user's messages */
	unsigned arg;    /* list index, or archive year */
} mk_catalog[] = {{"INBOX", MK_INBOX, 430, 0}, {"Sent", MK_SENT, 110, 0},
    {"Archive", MK_ARCHIVE, 60, 0}, {"Lists/debian-devel", MK_LISTS, 80, 0},
    {"Drafts", MK_DRAFTS, 20, 0}, {"Trash", MK_TRASH, 30, 0},
    {"Archive/2024", MK_ARCHIVE, 60, 2024},
    {"Projects/Ärger", MK_PROJECT, 30, 0},
    {"Lists/linux-kernel", MK_LISTS, 60, 1},
    {"Archive/2023", MK_ARCHIVE, 40, 2023}, {"Junk", MK_JUNK, 25, 0},
    {"Projects", MK_PROJECT, 15, 0}, {"Lists/pgsql-hackers", MK_LISTS, 40, 2}};
#define MK_NCAT         ((unsigned)N_ELEMENTS(mk_catalog))
#define MK_SLOT_SENT    1
#define MK_SLOT_ARCHIVE 2
#define MK_SLOT_DRAFTS  4

static const struct mk_list {
	const char *name, *addr, *host;
} mk_lists[] = {
    {"debian-devel", "debian-devel@lists.debian.org", "bendel.debian.org"},
    {"linux-kernel", "linux-kernel@vger.kernel.org", "vger.kernel.org"},
    {"pgsql-hackers", "pgsql-hackers@lists.postgresql.org",
        "malur.postgresql.org"}};

/* The client shapes a message most: HTML or not, top- or bottom-posting,
 * Message-ID and boundary formats. */
enum mk_mailer {
	MK_GMAIL,
	MK_TBIRD,
	MK_OUTLOOK,
	MK_APPLE,
	MK_MUTT,
	MK_RCUBE
};
static const struct mk_mailer_def {
	const char *hdr;     /* User-Agent / X-Mailer line, or NULL */
	const char *bprefix; /* MIME boundary prefix */
	unsigned html_pct;   /* chance of a text/html alternative */
	unsigned top_pct;    /* chance of top-posting a reply */
} mk_mailers[] = {{NULL, "000000000000", 95, 80},
    {"User-Agent: Mozilla Thunderbird 115.6.0", "------------", 60, 20},
    {"X-Mailer: Microsoft Outlook 16.0", "_000_", 100, 100},
    {"X-Mailer: Apple Mail (2.3731.700.6)", "Apple-Mail=_", 80, 60},
    {"User-Agent: NeoMutt/20231103", "", 0, 0},
    {"User-Agent: Roundcube Webmail/1.6.5", "=_", 40, 30}};

/* "Display|ascii" where the display form is not ASCII. */
static const char *const mk_first[] = {"James", "Mary", "Robert", "Patricia",
    "John", "Jennifer", "Michael", "Linda", "David", "Susan", "Thomas",
    "Jessica", "Anna", "Lukas", "Sophie", "Jonas", "Marie", "Felix", "Léa|lea",
    "José|jose", "Zoë|zoe", "Søren|soren", "Björn|bjorn", "Jürgen|juergen",
    "François|francois", "Chloé|chloe", "Ingrid", "Matteo", "Giulia", "Hiroshi",
    "Yuki", "Wei", "Priya", "Arjun", "Olga", "Dmitri", "Fatima", "Omar",
    "Ngozi", "Kwame", "Łukasz|lukasz", "Tomás|tomas", "Siobhán|siobhan", "Ewa",
    "Astrid"};
static const char *const mk_last[] = {"Smith", "Johnson", "Williams", "Brown",
    "Jones", "Miller", "Davis", "Garcia", "Wilson", "Taylor", "Müller|mueller",
    "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Hoffmann",
    "Dubois", "Lefèvre|lefevre", "Rossi", "Fernández|fernandez", "López|lopez",
    "Nakamura", "Tanaka", "Chen", "Wang", "Kumar", "Patel", "Ivanov",
    "Kowalski", "Nowak", "Andersson", "Nielsen", "O'Brien", "Murphy",
    "van der Berg", "Öztürk|ozturk", "Yılmaz|yilmaz"};
static const char *const mk_domains[] = {"gmail.com", "gmail.com",
    "googlemail.com", "outlook.com", "hotmail.com", "yahoo.com", "web.de",
    "gmx.net", "gmx.de", "posteo.de", "mailbox.org", "fastmail.com",
    "proton.me", "icloud.com", "orange.fr", "free.fr", "telefonica.es",
    "telia.se", "seznam.cz", "mail.ru", "docomo.ne.jp", "acme-corp.com",
    "example.com", "initech.net", "globex.io", "uni-heidelberg.de", "ethz.ch",
    "mit.edu", "cs.ox.ac.uk", "debian.org", "redhat.com", "suse.de",
    "kernel.org", "cybertec.at"};

/* Non-English text exercises charsets: Latin-1 representable languages
 * may go out as ISO-8859-1, the others only as UTF-8. */
enum {
	MK_EN,
	MK_DE,
	MK_FR,
	MK_ES,
	MK_SV,
	MK_RU,
	MK_JA
};
static const char *const mk_de[] = {
    "Können wir das Treffen auf Donnerstag verschieben?",
    "Die Größe der Datei überschreitet leider das Limit für Anhänge.",
    "Über die Änderungen am Zeitplan müssen wir noch einmal reden.",
    "Der Server läuft wieder, die Ursache war ein volles Dateisystem.",
    "Bitte prüfe bis Freitag, ob die Zahlen für das Quartal stimmen."};
static const char *const mk_fr[] = {
    "Merci pour ton retour, je regarde ça demain matin.",
    "Le déploiement a échoué à cause d'une dépendance manquante.",
    "Peux-tu vérifier les chiffres avant la réunion de lundi ?",
    "J'ai mis à jour le document partagé avec les dernières remarques."};
static const char *const mk_es[] = {
    "¿Podrías revisar el presupuesto antes del viernes?",
    "La reunión se ha trasladado a la sala pequeña.",
    "Gracias por tu ayuda con la migración, salió todo bien."};
static const char *const mk_sv[] = {
    "Vi ses på mötet i morgon, jag tar med kaffe.",
    "Kan du skicka över de senaste siffrorna före lunch?",
    "Servern är uppgraderad och allt verkar fungera."};
static const char *const mk_ru[] = {"Спасибо за письмо, я отвечу завтра.",
    "Отчёт готов, смотрите вложение.",
    "Давайте перенесём встречу на следующую неделю."};
static const char *const mk_ja[] = {
    "会議の資料を添付しました。ご確認ください。",
    "来週の予定について相談させてください。",
    "サーバーの移行は無事に完了しました。"};
static const struct mk_lang {
	const char *const *sent;
	unsigned nsent;
	const char *hello, *bye;
} mk_langs[] = {{NULL, 0, "Hi", "Best regards,"},
    {mk_de, N_ELEMENTS(mk_de), "Hallo", "Viele Grüße"},
    {mk_fr, N_ELEMENTS(mk_fr), "Bonjour", "Bien à toi,"},
    {mk_es, N_ELEMENTS(mk_es), "Hola", "Un saludo,"},
    {mk_sv, N_ELEMENTS(mk_sv), "Hej", "Hälsningar,"},
    {mk_ru, N_ELEMENTS(mk_ru), "Привет", "С уважением,"},
    {mk_ja, N_ELEMENTS(mk_ja), "こんにちは", "よろしくお願いします。"}};

/* English is assembled from parts so bodies do not repeat verbatim, which
 * would make compression and deduplication look better than reality. */
static const char *const mk_en_open[] = {"", "", "", "", "I think",
    "As discussed,", "Just a heads-up:", "FYI,", "Honestly,", "Unfortunately,",
    "Good news:", "As far as I know,", "Quick update:"};
static const char *const mk_en_subj[] = {"the new build", "our release plan",
    "the patch", "this approach", "the budget", "the migration script",
    "the index rebuild", "the test suite", "the customer", "the second draft",
    "the backup job", "the contract", "the dashboard", "the quarterly numbers",
    "the API change", "the staging server", "your proposal"};
static const char *const mk_en_verb[] = {"needs another review",
    "looks good to me", "breaks on ARM64", "was merged yesterday",
    "should land before the freeze", "is blocked by the vendor",
    "fails intermittently", "takes far too long", "is ready for QA",
    "could use more tests", "has been moved to Thursday",
    "still needs a sign-off from legal", "works fine on my machine",
    "costs about twice what we planned"};
static const char *const mk_en_tail[] = {".", ".", ".", " next week.",
    " as far as I can tell.", ", see the attached log.",
    " unless someone objects.", "?", " - any thoughts?", " for now.",
    " according to the latest numbers."};
static const char *const mk_en_extra[] = {"Thanks!",
    "Let me know if you have questions.", "Sorry for the late reply.",
    "Does that work for you?", "I'll follow up tomorrow.",
    "Happy to discuss on a call."};
static const char *const mk_en_bye[] = {
    "Best regards,", "Cheers,", "Thanks,", "Best,", "Kind regards,"};
static const char *const mk_titles[] = {"Senior Engineer", "Project Manager",
    "Head of Finance", "PhD student", "Site Reliability Engineering",
    "Geschäftsführer", "Debian Developer"};

/* '~' in a subject or file name becomes a number. */
static const char *const mk_subjects[] = {"Meeting notes",
    "Quarterly report draft", "Lunch on Friday?",
    "Travel plans for the conference", "Updated contract",
    "Budget 2025 — final numbers", "Question about the API",
    "Server maintenance tonight", "Invoice ~", "Your order #~ has shipped",
    "Welcome to the team!", "Photos from the weekend",
    "Reminder: performance reviews due", "Can you take a look?",
    "Weekly sync agenda", "Offsite planning", "Bug ~: crash on startup",
    "Slides for tomorrow", "Draft proposal v~", "Grüße aus Köln",
    "Änderungen am Vertrag", "Réunion de lundi", "¿Café mañana?",
    "Prüfbericht für Q~", "Übergabe der Schlüssel", "Встреча в пятницу",
    "会議の議事録", "Déjà vu: the same bug again", "Fika på fredag?",
    "Naïve question about the café budget"};
static const char *const mk_topics[] = {"fix use-after-free in error path",
    "add support for new hardware", "drop unused helper",
    "avoid deadlock on teardown", "document locking rules",
    "reduce memory footprint of the cache", "handle short reads correctly",
    "make the build reproducible", "speed up startup by 30%",
    "switch default compression to zstd",
    "improve error messages for invalid input", "replace home-grown hash"};
static const char *const mk_subsys[] = {
    "mm", "net", "sched", "fs/ext4", "drm/i915", "btrfs", "x86/mm", "usb"};
static const char *const mk_list_pfx[] = {
    "Bug#1061234: ", "Proposal: ", "[RFC] ", "", "[PATCH] "};
static const char *const mk_news_subj[] = {"Your weekly digest",
    "Ihre Bestellung wurde versandt", "Last chance: 50% off everything",
    "A new sign-in to your account", "Your receipt",
    "This week in open source"};
static const char *const mk_junk_subj[] = {"You have won a $1000 gift card!!!",
    "URGENT: verify your account now", "Cheap meds – no prescription",
    "Dear friend, a business proposal",
    "Ihr Paket konnte nicht zugestellt werden",
    "Félicitations ! Vous avez gagné"};
static const char *const mk_brands[] = {"GitHub|noreply@github.com",
    "LinkedIn|messages-noreply@linkedin.com",
    "Amazon.de|versandbestaetigung@amazon.de",
    "Deutsche Bahn|buchungsbestaetigung@bahn.de",
    "The Economist|newsletters@e.economist.com",
    "Hetzner Online|info@hetzner.com"};
static const char *const mk_spam[] = {
    "Customer Support|secure-login-verify.top", "PayPaI Security|pp-id.xyz",
    "Lottery Commission|winner-claim.info", "Paketdienst|dhl-track.biz"};
static const char *const mk_keywords[] = {"$Forwarded", "$Label1", "$Label2",
    "$Label3", "$Label4", "$Label5", "Important", "$NotJunk", "$MDNSent",
    "$Todo"};

/* Attachments: a real magic number, then incompressible bytes, which is
 * what PDF streams, JPEG, PNG and ZIP payloads look like to a store. */
#define MK_BYTES(s) s, sizeof(s) - 1
static const struct mk_atype {
	const char *mime, *ext, *magic;
	size_t magic_len;
	const char *names[3];
	unsigned weight; /* percent */
} mk_atypes[] = {
    {"application/pdf", "pdf",
        MK_BYTES("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
                 "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"),
        {"Invoice_~", "Präsentation_final", "report-q~"}, 45},
    {"image/jpeg", "jpg", MK_BYTES("\xff\xd8\xff\xe0\0\x10JFIF\0\x01"),
        {"IMG_~", "DSC0~", "photo"}, 20},
    {"image/png", "png", MK_BYTES("\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
        {"Screenshot ~", "image", "Bildschirmfoto ~"}, 15},
    {"application/zip", "zip", MK_BYTES("PK\x03\x04\x14\0\0\0\x08\0"),
        {"logs-~", "backup", "source-~"}, 10},
    {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx", MK_BYTES("PK\x03\x04\x14\0\x06\0\x08\0"),
        {"budget_~", "Übersicht_Kosten", "timesheet-~"}, 10}};

/* ---- generator state ---- */

struct mk_pooled {
	bool ready;
	unsigned type;
	char name[64];
	struct mail_buf b64; /* encoded once, reused verbatim */
};

struct mk_ctx {
	uint64_t seed;  /* -s: the shared world (people, pool) */
	uint64_t useed; /* this user's message streams */
	unsigned user;  /* 1-based */
	struct mk_pooled pool[MK_POOL];
};

struct mk_person {
	char name[96]; /* UTF-8 display name, may be empty */
	char first[48];
	char addr[96];
	const char *domain; /* points into addr */
	int tz;             /* minutes east of UTC */
	unsigned mailer, lang;
	bool sig;
};

/* What a message is before any bytes: enough for replies to refer to. */
struct mk_skel {
	uint64_t idx, parent;
	bool reply, newsletter, fwd;
	unsigned slot;     /* index into mk_catalog */
	unsigned list;     /* list index + 1 in list threads, else 0 */
	uint32_t from, to; /* person ids */
	int64_t date;      /* Date: header, epoch seconds */
	unsigned delay;    /* seconds from Date: to delivery */
	unsigned natt;     /* attachments */
	unsigned r_reply, r_slot, r_inh, r_news; /* raw draws */
	uint64_t r_from, r_to, r_date, r_subj, r_id;
	char subject[200]; /* UTF-8, unencoded */
	char msgid[128];
};

static NORETURN void mk_die(const char *fmt, ...) PRINTF_LIKE(1, 2);

static void
mk_die(const char *fmt, ...)
{
	va_list ap;

	fputs("mkcorpus: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Column at the end of b, for header folding. */
static size_t
mk_col(const struct mail_buf *b)
{
	size_t i = b->len;

	while (i > 0 && b->data[i - 1] != '\n')
		i--;
	return b->len - i;
}

static bool
mk_is_ascii(const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (((const uint8_t *)p)[i] >= 0x80)
			return false;
	return true;
}

/* True when UTF-8 s fits ISO-8859-1 (only C2/C3 lead bytes). */
static bool
mk_is_latin1(const void *p, size_t n)
{
	const uint8_t *s = p;

	for (size_t i = 0; i < n; i++)
		if (s[i] >= 0xc4 || s[i] == 0xc0 || s[i] == 0xc1)
			return false;
	return true;
}

static size_t
mk_utf8_len(uint8_t c)
{
	return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

/* Copy s, replacing each '~' with a number. */
static void
mk_fill(char *dst, size_t sz, const char *s, struct mk_rng *r)
{
	size_t j = 0;

	for (; *s != '\0' && j + 6 < sz; s++) {
		if (*s == '~')
			j += (size_t)snprintf(
			    dst + j, sz - j, "%u", 1 + mk_below(r, 9999));
		else
			dst[j++] = *s;
	}
	dst[j] = '\0';
}

/* Split "a|b" into two strings. */
static void
mk_split(const char *e, char *a, size_t asz, char *b, size_t bsz)
{
	const char *bar = strchr(e, '|');

	snprintf(a, asz, "%.*s",
	    (int)(bar != NULL ? (size_t)(bar - e) : strlen(e)), e);
	snprintf(b, bsz, "%s", bar != NULL ? bar + 1 : e);
}

static void
mk_alnum(struct mk_rng *r, char *buf, size_t n)
{
	static const char set[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

	for (size_t i = 0; i < n; i++)
		buf[i] = set[mk_below(r, 62)];
	buf[n] = '\0';
}

/* ---- encoders ---- */

static const char mk_b64tab[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* RFC 2045 6.8 base64, 76-column lines (none if !wrap). Written in place
 * because attachments are most of the corpus bytes. */
static void
mk_base64(struct mail_buf *out, const uint8_t *p, size_t n, bool wrap)
{
	size_t olen = (n + 2) / 3 * 4, i, col = 0;
	uint32_t v;
	char *o;

	mail_buf_reserve(out, olen + olen / 76 + 2);
	o = (char *)out->data + out->len;
	for (i = 0; i < n; i += 3) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		*o++ = mk_b64tab[v >> 18];
		*o++ = mk_b64tab[(v >> 12) & 63];
		*o++ = i + 1 < n ? mk_b64tab[(v >> 6) & 63] : '=';
		*o++ = i + 2 < n ? mk_b64tab[v & 63] : '=';
		if ((col += 4) == 76 && wrap) {
			*o++ = '\n';
			col = 0;
		}
	}
	if (col > 0 && wrap)
		*o++ = '\n';
	out->len = (size_t)(o - (char *)out->data);
	out->data[out->len] = '\0';
}

/* RFC 2045 6.7 quoted-printable: LF stays a hard break, lines are soft-
 * broken at 76 columns, white space before a line end is encoded. */
static void
mk_qp(struct mail_buf *out, const uint8_t *p, size_t n)
{
	size_t col = 0;
	uint8_t c;
	bool enc;

	for (size_t i = 0; i < n; i++) {
		c = p[i];
		enc = c >= 0x7f || c == '=' ||
		    (c < 32 && c != '\t' && c != '\n') ||
		    ((c == ' ' || c == '\t') &&
		        (i + 1 == n || p[i + 1] == '\n'));
		if (c != '\n' && col + (enc ? 3 : 1) > 75) {
			mail_buf_append(out, "=\n", 2);
			col = 0;
		}
		if (enc)
			mail_buf_printf(out, "=%02X", c);
		else
			mail_buf_append(out, &c, 1);
		col = c == '\n' ? 0 : col + (enc ? 3 : 1);
	}
	if (n > 0 && p[n - 1] != '\n')
		mail_buf_append(out, "\n", 1);
}

/* UTF-8 to ISO-8859-1, for text that passed mk_is_latin1(). */
static void
mk_to_latin1(struct mail_buf *out, const uint8_t *p, size_t n)
{
	uint8_t c;

	for (size_t i = 0; i < n; i++) {
		c = p[i];
		if (c >= 0xc2 && i + 1 < n)
			c = (uint8_t)(((c & 0x1f) << 6) | (p[++i] & 0x3f));
		mail_buf_append(out, &c, 1);
	}
}

/* RFC 2047 5(3): what Q may leave unencoded even inside a phrase. */
static bool
mk_qsafe(uint8_t c)
{
	return (c >= '0' && c <= '9') ||
	    ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
	    (c != '\0' && strchr("!*+-/", c) != NULL);
}

/*
 * Append UTF-8 s as RFC 2047 encoded words: UTF-8 B, or ISO-8859-1 Q when
 * latin1 (s must then pass mk_is_latin1()). Words hold whole characters
 * (section 5 forbids splitting one), stay under 75 chars and are folded
 * onto continuation lines.
 */
static void
mk_ew(struct mail_buf *out, const char *s, bool latin1)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strlen(s), i = 0, start = 0, len = 0, clen, w;
	struct mail_buf t = MAIL_BUF_INIT;

	while (start < n) {
		clen = i < n ? mk_utf8_len(p[i]) : 0;
		if (clen > n - i)
			clen = n - i;
		w = latin1 ? (clen > 1 || !mk_qsafe(p[i]) ? 3 : 1) : clen;
		/* the first word shares its line with the field name */
		if (i < n &&
		    (latin1 ? len + w <= (start == 0 ? 36U : 56U)
		            : (len + w + 2) / 3 <= (start == 0 ? 10U : 15U))) {
			len += w;
			i += clen;
			continue;
		}
		/* flush characters [start, i) as one word */
		mail_buf_reset(&t);
		if (latin1)
			mk_to_latin1(&t, p + start, i - start);
		else
			mk_base64(&t, p + start, i - start, false);
		if (start > 0)
			mail_buf_append_str(out, "\n ");
		mail_buf_printf(out, "=?%s?%c?",
		    latin1 ? "ISO-8859-1" : "UTF-8", latin1 ? 'Q' : 'B');
		for (size_t k = 0; k < t.len && latin1; k++) {
			if (t.data[k] == ' ')
				mail_buf_append(out, "_", 1);
			else if (mk_qsafe(t.data[k]))
				mail_buf_append(out, t.data + k, 1);
			else
				mail_buf_printf(out, "=%02X", t.data[k]);
		}
		if (!latin1)
			mail_buf_append(out, t.data, t.len);
		mail_buf_append(out, "?=", 2);
		start = i;
		len = 0;
	}
	mail_buf_free(&t);
}

/* Modified UTF-7 (RFC 3501 5.1.3) as Dovecot's Maildir++ names use it;
 * '/' becomes the Maildir++ separator '.'. */
static void
mk_mutf7(struct mail_buf *out, const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	uint32_t cp, bits = 0;
	size_t len, k;
	int nbits = 0;
	char c;

	while (*p != '\0') {
		if (*p < 0x80) {
			mail_buf_append_str(out,
			    *p == '&'       ? "&-"
			        : *p == '/' ? "."
			                    : (const char[]){(char)*p, '\0'});
			p++;
			continue;
		}
		mail_buf_append(out, "&", 1);
		while (*p >= 0x80 || nbits > 0) {
			if (*p >= 0x80) { /* one BMP char = 16 bits */
				len = mk_utf8_len(*p);
				cp = *p & (0x7f >> len);
				for (k = 1; k < len && p[k] != '\0'; k++)
					cp = cp << 6 | (p[k] & 0x3f);
				p += k;
				bits = bits << 16 | (cp & 0xffff);
				nbits += 16;
			} else { /* pad the last sextet */
				bits <<= 6 - nbits;
				nbits = 6;
			}
			for (; nbits >= 6; nbits -= 6) {
				c = mk_b64tab[(bits >> (nbits - 6)) & 63];
				mail_buf_append(out, c == '/' ? "," : &c, 1);
			}
		}
		mail_buf_append(out, "-", 1);
	}
}

/* RFC 5322 3.3 date in the sender's zone, without touching TZ. */
static void
mk_date(char *buf, size_t sz, int64_t t, int tz)
{
	static const char wday[] = "SunMonTueWedThuFriSat";
	static const char mon[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	time_t lt = (time_t)(t + tz * 60);
	int a = tz < 0 ? -tz : tz;
	struct tm tm;

	gmtime_r(&lt, &tm);
	snprintf(buf, sz, "%.3s, %d %.3s %04d %02d:%02d:%02d %c%02d%02d",
	    wday + 3 * tm.tm_wday, tm.tm_mday, mon + 3 * tm.tm_mon,
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    tz < 0 ? '-' : '+', a / 60, a % 60);
}

/* ---- people ---- */

static bool
mk_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && strcmp(s + n - m, suf) == 0;
}

/* A person from the id alone; language and zone follow the domain. */
static void
mk_person(const struct mk_ctx *c, uint32_t id, struct mk_person *p)
{
	static const int tzs[] = {-480, -300, 0, 60, 60, 330, 540, 600};
	char first[48], last[48], fa[48], la[48], t[64];
	const char *dom;
	struct mk_rng r;
	unsigned style, j, k;

	memset(p, 0, sizeof(*p));
	p->tz = 60;
	mk_rng_init(&r, c->seed, id == MK_SELF ? MK_ST_SELF : MK_ST_PERSON,
	    id == MK_SELF ? c->user : id);
	if (id >= MK_LIST && id < MK_SELF) {
		snprintf(p->addr, sizeof(p->addr), "%s",
		    mk_lists[id - MK_LIST].addr);
	} else if (id >= MK_BRAND && id < MK_LIST) {
		mk_split(id < MK_SPAM ? mk_brands[id - MK_BRAND]
		                      : MK_PICK(&r, mk_spam),
		    p->name, sizeof(p->name), t, sizeof(t));
		if (id < MK_SPAM)
			snprintf(p->addr, sizeof(p->addr), "%s", t);
		else
			snprintf(p->addr, sizeof(p->addr), "noreply%u@%s",
			    mk_below(&r, 1000), t);
		p->mailer = id < MK_SPAM ? MK_RCUBE : MK_OUTLOOK;
	}
	if (id >= MK_BRAND && id != MK_SELF) {
		p->domain = strchr(p->addr, '@') + 1;
		return;
	}
	mk_split(MK_PICK(&r, mk_first), first, sizeof(first), t, sizeof(t));
	for (j = k = 0; t[j] != '\0'; j++) /* address form: [a-z] only */
		if ((t[j] | 0x20) >= 'a' && (t[j] | 0x20) <= 'z')
			fa[k++] = (char)(t[j] | 0x20);
	fa[k] = '\0';
	mk_split(MK_PICK(&r, mk_last), last, sizeof(last), t, sizeof(t));
	for (j = k = 0; t[j] != '\0'; j++)
		if ((t[j] | 0x20) >= 'a' && (t[j] | 0x20) <= 'z')
			la[k++] = (char)(t[j] | 0x20);
	la[k] = '\0';
	snprintf(p->first, sizeof(p->first), "%s", first);
	/* Outlook address books like "Last, First", which needs quoting. */
	snprintf(p->name, sizeof(p->name),
	    mk_pct(&r) < 8 ? "%2$s, %1$s" : "%1$s %2$s", first, last);
	p->sig = mk_pct(&r) < 60;
	if (id == MK_SELF) {
		snprintf(
		    p->addr, sizeof(p->addr), "user%u@example.org", c->user);
		p->domain = strchr(p->addr, '@') + 1;
		p->mailer = (unsigned[]){
		    MK_TBIRD, MK_OUTLOOK, MK_APPLE, MK_RCUBE}[mk_below(&r, 4)];
		return;
	}
	dom = MK_PICK(&r, mk_domains);
	style = mk_below(&r, 4);
	snprintf(p->addr, sizeof(p->addr),
	    style == 0       ? "%s.%s@%s"
	        : style == 1 ? "%.1s%s@%s"
	        : style == 2 ? "%s_%s@%s"
	                     : "%s%s@%s",
	    fa, la, dom);
	p->domain = strchr(p->addr, '@') + 1;
	p->lang = (mk_suffix(dom, ".de") || mk_suffix(dom, ".at") ||
	              mk_suffix(dom, ".ch")) &&
	        mk_pct(&r) < 70
	    ? MK_DE
	    : mk_suffix(dom, ".fr") ? MK_FR
	    : mk_suffix(dom, ".es") ? MK_ES
	    : mk_suffix(dom, ".se") ? MK_SV
	    : mk_suffix(dom, ".ru") ? MK_RU
	    : mk_suffix(dom, ".jp") ? MK_JA
	                            : MK_EN;
	p->tz = p->lang == MK_RU ? 180
	    : p->lang == MK_JA   ? 540
	    : p->lang != MK_EN   ? 60
	                         : tzs[mk_below(&r, N_ELEMENTS(tzs))];
	if (strstr(dom, "gmail") != NULL)
		p->mailer = MK_GMAIL;
	else if (strstr(dom, "outlook") != NULL ||
	    strstr(dom, "hotmail") != NULL)
		p->mailer = MK_OUTLOOK;
	else
		p->mailer = mk_below(&r, N_ELEMENTS(mk_mailers));
}

/* A correspondent: mostly the frequent contacts, as in real mailboxes. */
static uint32_t
mk_pick_person(uint64_t r)
{
	return (uint32_t)((r >> 8) % (r % 100 < 60 ? MK_NCLOSE : MK_NPEOPLE));
}

/* ---- skeletons and threads ---- */

static void
mk_skel_raw(const struct mk_ctx *c, uint64_t idx, struct mk_skel *s)
{
	struct mk_rng r;
	unsigned a;

	mk_rng_init(&r, c->useed, MK_ST_SKEL, idx);
	memset(s, 0, sizeof(*s));
	s->idx = idx;
	s->r_reply = mk_pct(&r);
	s->parent = idx > 0 ? idx - 1 - mk_below(&r, idx < 64 ? idx : 64) : 0;
	s->reply = idx > 0 && s->r_reply < 34; /* some become roots */
	s->r_slot = mk_below(&r, 1000);
	s->r_inh = mk_pct(&r);
	s->r_news = mk_pct(&r);
	s->r_from = mk_next(&r);
	s->r_to = mk_next(&r);
	s->r_date = mk_next(&r);
	s->r_subj = mk_next(&r);
	s->r_id = mk_next(&r);
	s->delay = 2 + mk_below(&r, 180);
	a = mk_below(&r, 1000);
	s->natt = a < 50 ? 1 : a < 63 ? 2 : a < 67 ? 3 : 0;
	s->fwd = mk_pct(&r) < 40;
}

/* Message-ID in the style of the sender's client: they differ in length
 * and shape, which matters to index and hash structures. */
static void
mk_msgid(const struct mk_ctx *c, struct mk_skel *s)
{
	struct mk_person p;
	struct mk_rng r;
	char a[48];

	mk_person(c, s->from, &p);
	mk_rng_init(&r, s->r_id, 0, 0);
	mk_alnum(&r, a,
	    p.mailer == MK_GMAIL      ? 44
	        : p.mailer == MK_MUTT ? 12
	                              : 32);
	if (p.mailer == MK_GMAIL)
		snprintf(
		    s->msgid, sizeof(s->msgid), "<CA%s@mail.gmail.com>", a);
	else if (p.mailer == MK_OUTLOOK)
		snprintf(s->msgid, sizeof(s->msgid),
		    "<AM0PR07MB%s@AM0PR07MB%.4s.eurprd07.prod.outlook.com>", a,
		    a);
	else if (p.mailer == MK_MUTT)
		snprintf(s->msgid, sizeof(s->msgid), "<%" PRId64 ".%s@%s>",
		    s->date, a, p.domain);
	else
		snprintf(s->msgid, sizeof(s->msgid), "<%s@%s>", a, p.domain);
}

static void
mk_root_subject(struct mk_skel *s, enum mk_kind kind)
{
	struct mk_rng r;
	const char *sub;
	unsigned v, k, m;
	char t[160];

	mk_rng_init(&r, s->r_subj, 0, 0);
	if (kind == MK_JUNK || s->newsletter || s->list == 0) {
		mk_fill(t, sizeof(t),
		    kind == MK_JUNK     ? MK_PICK(&r, mk_junk_subj)
		        : s->newsletter ? MK_PICK(&r, mk_news_subj)
		                        : MK_PICK(&r, mk_subjects),
		    &r);
	} else if (s->list == 2) {
		v = 2 + mk_below(&r, 4);
		k = 1 + mk_below(&r, 7);
		m = k + mk_below(&r, 5);
		sub = MK_PICK(&r, mk_subsys);
		snprintf(t, sizeof(t), "[PATCH v%u %u/%u] %s: %s", v, k, m, sub,
		    MK_PICK(&r, mk_topics));
	} else {
		sub = MK_PICK(&r, mk_list_pfx);
		snprintf(t, sizeof(t), "%s%s", sub, MK_PICK(&r, mk_topics));
	}
	snprintf(
	    s->subject, sizeof(s->subject), "%s%s", s->fwd ? "Fwd: " : "", t);
}

static void
mk_resolve_root(const struct mk_ctx *c, struct mk_skel *s)
{
	const struct mk_folder_def *f;
	unsigned acc = 0, y;

	for (s->slot = 0; s->slot + 1 < MK_NCAT; s->slot++)
		if (s->r_slot < (acc += mk_catalog[s->slot].weight))
			break;
	f = &mk_catalog[s->slot];
	s->reply = false;
	s->list = f->kind == MK_LISTS ? f->arg + 1 : 0;
	s->newsletter = (f->kind == MK_INBOX || f->kind == MK_TRASH ||
	                    f->kind == MK_ARCHIVE) &&
	    s->r_news < 14;
	if ((y = f->kind == MK_ARCHIVE ? f->arg : 0) != 0) /* that year */
		s->date = 86400LL *
		        (365 * (y - 1970) + (y - 1969) / 4 - (y - 1901) / 100 +
		            (y - 1601) / 400) +
		    (int64_t)(s->r_date % (365 * 86400));
	else
		s->date = MK_END - 1 - (int64_t)(s->r_date % MK_SPAN);
	s->to = MK_SELF;
	if (f->kind == MK_SENT || f->kind == MK_DRAFTS) {
		s->from = MK_SELF;
		s->to = mk_pick_person(s->r_to);
	} else if (f->kind == MK_LISTS) {
		s->from = (uint32_t)(s->r_from % MK_NPEOPLE);
		s->to = MK_LIST + f->arg;
	} else if (f->kind == MK_JUNK)
		s->from = MK_SPAM + (uint32_t)(s->r_from >> 40);
	else if (s->newsletter)
		s->from =
		    MK_BRAND + (uint32_t)(s->r_from % N_ELEMENTS(mk_brands));
	else
		s->from = mk_pick_person(s->r_from);
	/* Lists carry patches inline, not attachments. */
	if (f->kind == MK_JUNK || s->newsletter ||
	    (s->list != 0 && s->r_news >= 20))
		s->natt = 0;
	s->fwd = s->fwd && s->natt > 0;
	mk_root_subject(s, f->kind);
	mk_msgid(c, s);
}

/* Who answers whom: my replies go to Sent (a few stay in Drafts), answers
 * to my mail arrive in INBOX, list threads stay on their list. */
static void
mk_resolve_reply(
    const struct mk_ctx *c, struct mk_skel *s, const struct mk_skel *p)
{
	enum mk_kind pk = mk_catalog[p->slot].kind;
	unsigned oct, l;

	if (pk == MK_JUNK || pk == MK_DRAFTS || p->newsletter) {
		mk_resolve_root(c, s);
		return;
	}
	s->list = p->list;
	if (p->list != 0) {
		for (l = 0; mk_catalog[l].kind != MK_LISTS ||
		     mk_catalog[l].arg != p->list - 1;
		     l++)
			;
		s->slot = s->r_inh < 15 ? MK_SLOT_SENT : l;
		s->from = s->slot == MK_SLOT_SENT
		    ? MK_SELF
		    : (uint32_t)(s->r_from % MK_NPEOPLE);
		s->to = MK_LIST + p->list - 1;
	} else if (p->from == MK_SELF) {
		s->slot = s->r_inh < 85 ? 0 : MK_SLOT_ARCHIVE;
		s->from = p->to < MK_BRAND ? p->to : mk_pick_person(s->r_from);
		s->to = MK_SELF;
	} else {
		s->slot = s->r_inh < 40 ? MK_SLOT_SENT
		    : s->r_inh < 43     ? MK_SLOT_DRAFTS
		                        : p->slot;
		s->from = s->slot == MK_SLOT_SENT || s->slot == MK_SLOT_DRAFTS
		    ? MK_SELF
		    : s->r_inh < 70 ? p->from
		                    : mk_pick_person(s->r_from);
		s->to = s->from == MK_SELF ? p->from : MK_SELF;
	}
	/* Answers come a minute to days later: 1 min << 0..11 octaves. */
	oct = (unsigned)(s->r_date % 12);
	s->date = p->date + (60LL << oct) +
	    (int64_t)((s->r_date >> 8) % (60ULL << oct));
	if (s->date >= MK_END)
		s->date = MK_END - 1;
	s->fwd = false;
	snprintf(s->subject, sizeof(s->subject), "%s%s",
	    strncmp(p->subject, "Re: ", 4) == 0 ? "" : "Re: ", p->subject);
	mk_msgid(c, s);
}

/*
 * Message idx and its ancestors, resolved from the root down: element 0
 * is the message, element k + 1 the parent of element k while element k is
 * a reply. Returns the number of elements; the caller frees *chain_r.
 */
static size_t
mk_chain(const struct mk_ctx *c, uint64_t idx, struct mk_skel **chain_r)
{
	struct mk_skel *ch = NULL;
	size_t n = 0, cap = 0, k;

	do {
		ch = mail_xgrow(ch, &cap, n + 1, sizeof(*ch));
		mk_skel_raw(c, idx, &ch[n]);
		idx = ch[n].parent;
	} while (ch[n++].reply);
	mk_resolve_root(c, &ch[n - 1]);
	for (k = n - 1; k-- > 0;)
		mk_resolve_reply(c, &ch[k], &ch[k + 1]);
	for (k = 0; ch[k].reply; k++) /* a reply may have become a root */
		;
	*chain_r = ch;
	return k + 1;
}

/* ---- text ---- */

/* Append words of s, wrapping at 72 columns as mail clients do. */
static void
mk_words(struct mail_buf *out, size_t *col, const char *s)
{
	size_t n;

	for (; *s != '\0'; s += n) {
		while (*s == ' ')
			s++;
		n = strcspn(s, " ");
		if (*col > 0)
			mail_buf_append(out, *col + 1 + n > 72 ? "\n" : " ", 1);
		*col = *col > 0 && *col + 1 + n > 72 ? 0 : *col + (*col > 0);
		mail_buf_append(out, s, n);
		*col += n;
	}
}

static void
mk_paragraph(struct mk_rng *r, unsigned lang, struct mail_buf *out)
{
	const char *o, *subj, *verb;
	unsigned n = 2 + mk_below(r, 5);
	size_t col = 0;
	char s[256];

	while (n-- > 0) {
		if (lang != MK_EN)
			snprintf(s, sizeof(s), "%s",
			    mk_langs[lang]
			        .sent[mk_below(r, mk_langs[lang].nsent)]);
		else if (mk_pct(r) < 10)
			snprintf(s, sizeof(s), "%s", MK_PICK(r, mk_en_extra));
		else {
			o = MK_PICK(r, mk_en_open);
			subj = MK_PICK(r, mk_en_subj);
			verb = MK_PICK(r, mk_en_verb);
			snprintf(s, sizeof(s), "%s%s%c%s %s%s", o,
			    *o != '\0' ? " " : "",
			    *o != '\0' ? subj[0] : subj[0] - 32, subj + 1, verb,
			    MK_PICK(r, mk_en_tail));
		}
		mk_words(out, &col, s);
	}
	mail_buf_append(out, "\n\n", 2);
}

/* What the sender of s wrote: greeting, paragraphs, closing, signature.
 * A pure function of s, so a reply can quote its parent verbatim. */
static void
mk_own_text(
    const struct mk_ctx *c, const struct mk_skel *s, struct mail_buf *out)
{
	struct mk_person from, to;
	struct mk_rng r;
	unsigned np;

	mk_rng_init(&r, c->useed, MK_ST_TEXT, s->idx);
	mk_person(c, s->from, &from);
	mk_person(c, s->to, &to);
	if (to.first[0] != '\0')
		mail_buf_printf(
		    out, "%s %s,\n\n", mk_langs[from.lang].hello, to.first);
	else
		mail_buf_append_str(out, "Hi all,\n\n");
	/* Mostly two to four paragraphs, sometimes an essay. */
	np = 2 + mk_below(&r, 4);
	if (mk_pct(&r) < 30)
		np += mk_below(&r, 6);
	if (mk_pct(&r) < 5)
		np += mk_below(&r, 20);
	while (np-- > 0)
		mk_paragraph(&r, from.lang, out);
	mail_buf_printf(out, "%s\n%s\n",
	    from.lang == MK_EN ? MK_PICK(&r, mk_en_bye)
	                       : mk_langs[from.lang].bye,
	    from.first);
	if (from.sig)
		mail_buf_printf(out, "\n-- \n%s\n%s, %s\n", from.name,
		    MK_PICK(&r, mk_titles), from.domain);
}

/*
 * The plain text of chain[k]: its own words plus, for replies, the quoted
 * parent ("> ", and ">" before already quoted or empty lines). Clients
 * trim long histories, so quoting stops three levels deep.
 */
static void
mk_plain(const struct mk_ctx *c, const struct mk_skel *chain, size_t n,
    size_t k, unsigned depth, struct mail_buf *out)
{
	struct mail_buf own = MAIL_BUF_INIT, q = MAIL_BUF_INIT;
	struct mk_person from, pf;
	size_t i, e;
	char date[64];
	bool top;

	mk_own_text(c, &chain[k], &own);
	if (!chain[k].reply || k + 1 >= n || depth >= 3) {
		mail_buf_append(out, own.data, own.len);
		mail_buf_free(&own);
		return;
	}
	mk_plain(c, chain, n, k + 1, depth + 1, &q);
	mk_person(c, chain[k].from, &from);
	mk_person(c, chain[k + 1].from, &pf);
	top = chain[k].r_id % 100 < mk_mailers[from.mailer].top_pct;
	if (top)
		mail_buf_printf(out, "%s\n", (const char *)own.data);
	mk_date(date, sizeof(date), chain[k + 1].date, from.tz);
	mail_buf_printf(out, "On %s, %s <%s> wrote:\n", date, pf.name, pf.addr);
	for (i = 0; i < q.len; i = e + 1) {
		e = i + strcspn((const char *)q.data + i, "\n");
		mail_buf_append_str(
		    out, e == i || q.data[i] == '>' ? ">" : "> ");
		mail_buf_append(out, q.data + i, e - i);
		mail_buf_append(out, "\n", 1);
	}
	if (!top)
		mail_buf_printf(out, "\n%s", (const char *)own.data);
	mail_buf_free(&own);
	mail_buf_free(&q);
}

static void
mk_html_escape(struct mail_buf *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mail_buf_append_str(out,
		    p[i] == '&'       ? "&amp;"
		        : p[i] == '<' ? "&lt;"
		        : p[i] == '>' ? "&gt;"
		        : p[i] == '"' ? "&quot;"
		                      : (const char[]){(char)p[i], '\0'});
}

/* How clients open and close an HTML body (Outlook's is the bulkiest). */
static const char *const mk_html_head[] = {[MK_GMAIL] = "<div dir=\"ltr\">",
    [MK_OUTLOOK] =
        "<html xmlns:o=\"urn:schemas-microsoft-com:office:office\"><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"><meta name=\"Generator\" content=\"Microsoft Word 15 (filtered medium)\"><style><!--\np.MsoNormal{margin:0cm;font-size:11.0pt;font-family:\"Calibri\",sans-serif;}\na:link{color:#0563C1;text-decoration:underline;}\n--></style></head>\n<body lang=\"DE\" link=\"#0563C1\"><div class=\"WordSection1\">\n",
    [MK_TBIRD] =
        "<html>\n  <head>\n    <meta http-equiv=\"content-type\" content=\"text/html; charset=UTF-8\">\n  </head>\n  <body>\n"};

/* The HTML alternative of a plain text, wrapped the way the client does
 * it: quote levels become nested blockquotes. */
static void
mk_html_from_text(
    struct mail_buf *out, const struct mail_buf *t, unsigned mailer)
{
	unsigned depth = 0, d;
	size_t i, e, s;

	mail_buf_append_str(out,
	    mailer == MK_GMAIL || mailer == MK_OUTLOOK
	        ? mk_html_head[mailer]
	        : mk_html_head[MK_TBIRD]);
	for (i = 0; i < t->len; i = e + 1) {
		e = i + strcspn((const char *)t->data + i, "\n");
		for (s = i, d = 0; s < e && t->data[s] == '>'; d++)
			s += s + 1 < e && t->data[s + 1] == ' ' ? 2 : 1;
		for (; depth < d; depth++)
			mail_buf_append_str(
			    out, "<blockquote type=\"cite\">\n");
		for (; depth > d; depth--)
			mail_buf_append_str(out, "</blockquote>\n");
		if (mailer == MK_OUTLOOK)
			mail_buf_append_str(out,
			    "<p class=\"MsoNormal\"><span lang=\"EN-US\">");
		mk_html_escape(out, t->data + s, e - s);
		mail_buf_append_str(out,
		    mailer == MK_OUTLOOK ? "<o:p></o:p></span></p>\n"
		                         : "<br>\n");
	}
	for (; depth > 0; depth--)
		mail_buf_append_str(out, "</blockquote>\n");
	mail_buf_append_str(out,
	    mailer == MK_GMAIL         ? "</div>\n"
	        : mailer == MK_OUTLOOK ? "</div></body></html>\n"
	                               : "  </body>\n</html>\n");
}

/* Newsletters and spam: table layout, inline CSS and long tracking links
 * make them large and poorly compressible, like the real thing. */
static void
mk_newsletter(struct mk_rng *r, const struct mk_person *from,
    struct mail_buf *plain, struct mail_buf *html)
{
	unsigned cards = 2 + (unsigned)mk_logrange(r, 1, 40), k;
	char tok[96], s[256];
	const char *topic;
	size_t col;

	mail_buf_printf(html,
	    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>\n<style>body{margin:0;padding:0;background:#f4f4f4}table{border-collapse:collapse}.btn{background:#0a66c2;color:#ffffff;border-radius:4px;padding:10px 18px;text-decoration:none}</style></head>\n<body><table role=\"presentation\" width=\"600\" bgcolor=\"#ffffff\" align=\"center\">\n",
	    from->name);
	mail_buf_printf(plain, "%s\n\n", from->name);
	while (cards-- > 0) {
		mk_alnum(r, tok, 80);
		topic = MK_PICK(r, mk_topics);
		mail_buf_printf(html,
		    "<tr><td style=\"padding:16px 24px;font-family:Helvetica,Arial,sans-serif;font-size:15px;line-height:22px;color:#333333\"><h2 style=\"margin:0 0 8px 0;font-size:20px;color:#111111\">%s</h2>\n<p style=\"margin:0 0 12px 0\">",
		    topic);
		mail_buf_printf(plain, "== %s ==\n", topic);
		col = 0;
		for (k = 1 + mk_below(r, 3); k > 0; k--) {
			mk_fill(s, sizeof(s), MK_PICK(r, mk_en_extra), r);
			mk_html_escape(html, (const uint8_t *)s, strlen(s));
			mail_buf_append(html, " ", 1);
			mk_words(plain, &col, s);
		}
		mail_buf_printf(html,
		    "</p>\n<a class=\"btn\" href=\"https://click.%s/ls/click?upn=%s\">Read more</a></td></tr>\n",
		    from->domain, tok);
		mail_buf_printf(plain,
		    "\nRead more: https://click.%s/ls/click?upn=%s\n\n",
		    from->domain, tok);
	}
	mail_buf_printf(html,
	    "<tr><td style=\"font-size:12px;color:#888888\">You receive this email because you signed up at %s. <a href=\"https://%s/unsubscribe\">Unsubscribe</a></td></tr>\n</table></body></html>\n",
	    from->domain, from->domain);
	mail_buf_printf(
	    plain, "Unsubscribe: https://%s/unsubscribe\n", from->domain);
}

/* ---- MIME ---- */

/* One text part: Content-Type, then the transfer encoding as clients
 * choose it: ASCII mostly 7bit, 8-bit text as 8bit or QP (sometimes as
 * ISO-8859-1), HTML mostly QP, a few base64 (Outlook). */
static void
mk_emit_text(
    struct mail_buf *out, const struct mail_buf *t, bool html, struct mk_rng *r)
{
	bool ascii = mk_is_ascii(t->data, t->len);
	unsigned e = mk_pct(r);
	struct mail_buf l1 = MAIL_BUF_INIT;

	if (!html && !ascii && e >= 75 && e < 90 &&
	    mk_is_latin1(t->data, t->len)) {
		mk_to_latin1(&l1, t->data, t->len);
		mail_buf_append_str(out,
		    "Content-Type: text/plain; charset=ISO-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n");
		mk_qp(out, l1.data, l1.len);
		mail_buf_free(&l1);
		return;
	}
	mail_buf_printf(out, "Content-Type: text/%s; charset=%s\n",
	    html ? "html" : "plain",
	    ascii && !html && e < 50 ? "us-ascii" : "UTF-8");
	if ((ascii && e < (html ? 15U : 85U)) || (!ascii && !html && e < 50)) {
		mail_buf_printf(out, "Content-Transfer-Encoding: %s\n\n",
		    ascii ? "7bit" : "8bit");
		mail_buf_append(out, t->data, t->len);
	} else if (e < 90 || ascii) {
		mail_buf_append_str(
		    out, "Content-Transfer-Encoding: quoted-printable\n\n");
		mk_qp(out, t->data, t->len);
	} else {
		mail_buf_append_str(
		    out, "Content-Transfer-Encoding: base64\n\n");
		mk_base64(out, t->data, t->len, true);
	}
}

/* Type, name and base64 body of an attachment. Sizes are mostly tens of
 * KB with a tail to 2 MB, for a mean near 25 KB over all messages. */
static unsigned
mk_attachment(struct mk_rng *r, char *name, size_t sz, struct mail_buf *b64)
{
	struct mail_buf raw = MAIL_BUF_INIT;
	unsigned w = mk_pct(r), acc = 0, t = 0;
	size_t n, i;
	uint64_t v;
	char base[64];

	while (w >= (acc += mk_atypes[t].weight))
		t++;
	mk_fill(base, sizeof(base), mk_atypes[t].names[mk_below(r, 3)], r);
	snprintf(name, sz, "%s.%s", base, mk_atypes[t].ext);
	w = mk_pct(r);
	n = w < 60   ? mk_logrange(r, 10240, 102400)
	    : w < 90 ? mk_logrange(r, 102400, 524288)
	             : mk_logrange(r, 524288, 2097152);
	mail_buf_reserve(&raw, n + 8);
	mail_buf_append(&raw, mk_atypes[t].magic, mk_atypes[t].magic_len);
	for (i = raw.len; i < n; i += 8) {
		v = mk_next(r);
		memcpy(raw.data + i, &v, 8);
	}
	raw.len = n;
	if (t == 0)
		memcpy(raw.data + n - 6, "%%EOF\n", 6);
	mk_base64(b64, raw.data, raw.len, true);
	mail_buf_free(&raw);
	return t;
}

static void
mk_emit_att(struct mail_buf *out, unsigned type, const char *name,
    const struct mail_buf *b64)
{
	const char *mime = mk_atypes[type].mime;

	if (mk_is_ascii(name, strlen(name))) {
		mail_buf_printf(out,
		    "Content-Type: %s; name=\"%s\"\nContent-Disposition: attachment; filename=\"%s\"\n",
		    mime, name, name);
	} else {
		/* RFC 2231 filename*, plus the encoded-word name= that is not
		 * standard but what most clients send alongside. */
		mail_buf_printf(out, "Content-Type: %s;\n\tname=\"", mime);
		mk_ew(out, name, false);
		mail_buf_append_str(out,
		    "\"\nContent-Disposition: attachment;\n\tfilename*=UTF-8''");
		for (const uint8_t *p = (const uint8_t *)name; *p != '\0';
		     p++) {
			if (*p >= 0x80 || *p == ' ' || *p == '%')
				mail_buf_printf(out, "%%%02X", *p);
			else
				mail_buf_append(out, p, 1);
		}
		mail_buf_append(out, "\n", 1);
	}
	mail_buf_append_str(out, "Content-Transfer-Encoding: base64\n\n");
	mail_buf_append(out, b64->data, b64->len);
}

/* Shared attachments depend on the seed only, so the same PDF turns up in
 * many messages and users: something for single-instance storage. */
static const struct mk_pooled *
mk_pool_get(struct mk_ctx *c, unsigned k)
{
	struct mk_pooled *p = &c->pool[k];
	struct mk_rng r;

	if (!p->ready) {
		mk_rng_init(&r, c->seed, MK_ST_POOL, k);
		p->type = mk_attachment(&r, p->name, sizeof(p->name), &p->b64);
		p->ready = true;
	}
	return p;
}

static void mk_message(struct mk_ctx *c, uint64_t idx, bool embed,
    struct mail_buf *out, struct mk_skel *skel_r);

/*
 * The body entity of chain[0], from its Content-Type on:
 *   plain | html (spam) | alternative(plain, html), inside
 *   mixed(..., attachments..., [message/rfc822]) when attaching.
 */
static void
mk_body(struct mk_ctx *c, const struct mk_skel *chain, size_t n, bool embed,
    struct mail_buf *out)
{
	const struct mk_skel *s = &chain[0];
	enum mk_kind kind = mk_catalog[s->slot].kind;
	struct mail_buf plain = MAIL_BUF_INIT, html = MAIL_BUF_INIT;
	struct mail_buf b64 = MAIL_BUF_INIT, inner = MAIL_BUF_INIT;
	const struct mk_pooled *p;
	struct mk_person from;
	struct mk_rng r;
	char bmix[64], balt[64], name[64], a[32];
	bool alt, mixed, fwd_msg;
	unsigned k, type;

	mk_rng_init(&r, c->useed, MK_ST_BODY, s->idx);
	mk_person(c, s->from, &from);
	mk_alnum(&r, a, 24);
	snprintf(
	    bmix, sizeof(bmix), "%s%s", mk_mailers[from.mailer].bprefix, a);
	mk_alnum(&r, a, 24);
	snprintf(
	    balt, sizeof(balt), "%s%s", mk_mailers[from.mailer].bprefix, a);
	fwd_msg = embed && s->idx > 0 && kind != MK_LISTS && kind != MK_JUNK &&
	    !s->newsletter && mk_pct(&r) < 2;
	mixed = s->natt > 0 || fwd_msg;
	if (s->newsletter || kind == MK_JUNK) {
		mk_newsletter(&r, &from, &plain, &html);
		alt = kind != MK_JUNK || mk_pct(&r) < 50;
	} else {
		mk_plain(c, chain, n, 0, 0, &plain);
		if (s->list != 0)
			mail_buf_printf(&plain,
			    "\n-- \nTo UNSUBSCRIBE, email to %s\n",
			    mk_lists[s->list - 1].addr);
		alt = s->list == 0 &&
		    mk_pct(&r) < mk_mailers[from.mailer].html_pct;
		if (alt)
			mk_html_from_text(&html, &plain, from.mailer);
	}
	if (mixed)
		mail_buf_printf(out,
		    "Content-Type: multipart/mixed;\n\tboundary=\"%s\"\n\nThis is a multi-part message in MIME format.\n--%s\n",
		    bmix, bmix);
	if (alt) {
		mail_buf_printf(out,
		    "Content-Type: multipart/alternative;\n\tboundary=\"%s\"\n\n--%s\n",
		    balt, balt);
		mk_emit_text(out, &plain, false, &r);
		mail_buf_printf(out, "--%s\n", balt);
	}
	mk_emit_text(out, alt || kind == MK_JUNK ? &html : &plain,
	    alt || kind == MK_JUNK, &r);
	if (alt)
		mail_buf_printf(out, "--%s--\n", balt);
	for (k = 0; k < s->natt; k++) {
		mail_buf_printf(out, "--%s\n", bmix);
		if ((k == 0 && s->fwd) || mk_pct(&r) < 30) {
			/* low pool indexes are the popular files */
			p = mk_pool_get(
			    c, mk_below(&r, 1 + mk_below(&r, MK_POOL)));
			mk_emit_att(out, p->type, p->name, &p->b64);
		} else {
			mail_buf_reset(&b64);
			type = mk_attachment(&r, name, sizeof(name), &b64);
			mk_emit_att(out, type, name, &b64);
		}
	}
	if (fwd_msg) {
		/* Forwarded as attachment: an earlier message, built without
		 * embedding so that the recursion stops here. */
		mk_message(c,
		    s->idx - 1 - mk_below(&r, s->idx < 64 ? s->idx : 64), false,
		    &inner, NULL);
		mail_buf_printf(out,
		    "--%s\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename=\"forwarded.eml\"\n%s\n",
		    bmix,
		    mk_is_ascii(inner.data, inner.len)
		        ? ""
		        : "Content-Transfer-Encoding: 8bit\n");
		mail_buf_append(out, inner.data, inner.len);
	}
	if (mixed)
		mail_buf_printf(out, "--%s--\n", bmix);
	mail_buf_free(&plain);
	mail_buf_free(&html);
	mail_buf_free(&b64);
	mail_buf_free(&inner);
}

/* "Name <addr>", the display name encoded or quoted as needed. */
static void
mk_hdr_addr(struct mail_buf *out, const struct mk_person *p, bool latin1)
{
	if (p->name[0] == '\0')
		mail_buf_append_str(out, p->addr);
	else if (!mk_is_ascii(p->name, strlen(p->name))) {
		mk_ew(out, p->name,
		    latin1 && mk_is_latin1(p->name, strlen(p->name)));
		mail_buf_printf(out, " <%s>", p->addr);
	} else
		mail_buf_printf(out,
		    strpbrk(p->name, ",.") != NULL ? "\"%s\" <%s>" : "%s <%s>",
		    p->name, p->addr);
}

static void
mk_received(struct mail_buf *out, struct mk_rng *r, const char *from_host,
    const char *by, const char *rcpt, int64_t t, int tz)
{
	char date[64], qid[16];
	unsigned ip[4];

	mk_date(date, sizeof(date), t, tz);
	mk_alnum(r, qid, 12);
	for (unsigned k = 0; k < 4; k++)
		ip[k] = 1 + mk_below(r, 254);
	/* A client submitting from a LAN has no reverse DNS: "unknown". */
	mail_buf_printf(out,
	    "Received: from %s (%s [%u.%u.%u.%u])\n\tby %s (Postfix) with %s id %s",
	    from_host, from_host[0] == '[' ? "unknown" : from_host, ip[0],
	    ip[1], ip[2], ip[3], by, from_host[0] == '[' ? "ESMTPSA" : "ESMTPS",
	    qid);
	if (rcpt != NULL)
		mail_buf_printf(out, "\n\tfor <%s>", rcpt);
	mail_buf_printf(out, ";\n\t%s\n", date);
}

/* Headers a delivering MTA and its filters add (Postfix, rspamd, DKIM). */
static void
mk_trace(struct mail_buf *out, struct mk_rng *r, const struct mk_skel *s,
    const struct mk_person *from, const struct mk_person *self)
{
	const struct mk_list *l = s->list != 0 ? &mk_lists[s->list - 1] : NULL;
	char host[128], b[80];
	unsigned score = mk_catalog[s->slot].kind == MK_JUNK
	    ? 800 + mk_below(r, 1200)
	    : mk_below(r, 300);

	snprintf(host, sizeof(host), "%s.%s",
	    from->mailer == MK_GMAIL ? "mail-wr1-f54" : "smtp", from->domain);
	mail_buf_printf(out, "Return-Path: <%s>\nDelivered-To: %s\n",
	    l != NULL ? l->addr : from->addr, self->addr);
	mk_received(out, r, l != NULL ? l->host : host, "mx1.example.org",
	    self->addr, s->date + s->delay, 60);
	mk_received(out, r, l != NULL ? host : "[192.168.1.23]",
	    l != NULL ? l->host : host, NULL, s->date + 1, from->tz);
	mail_buf_printf(out,
	    "Authentication-Results: mx1.example.org;\n\tdkim=pass header.d=%s header.s=sel1;\n\tspf=pass (mx1.example.org: domain of %s designates sender as permitted sender) smtp.mailfrom=%s;\n\tdmarc=pass (policy=none) header.from=%s\n",
	    from->domain, from->addr, from->addr, from->domain);
	mail_buf_printf(out,
	    "X-Spamd-Result: default: False [%u.%02u / 15.00];\n\tR_DKIM_ALLOW(-0.20)[%s:s=sel1]; R_SPF_ALLOW(-0.20)[+ip4];\n\tMIME_GOOD(-0.10)[text/plain]; RCVD_COUNT_TWO(0.00)[2];\n\tFROM_HAS_DN(0.00)[]; TO_DN_SOME(0.00)[]; ARC_NA(0.00)[]\nX-Spam-Status: %s, score=%u.%02u\n",
	    score / 100, score % 100, from->domain, score >= 500 ? "Yes" : "No",
	    score / 100, score % 100);
	if (mk_pct(r) < 60) {
		mk_alnum(r, b, 43);
		mail_buf_printf(out,
		    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s; s=sel1;\n\tt=%" PRId64
		    "; h=from:to:subject:date:message-id:mime-version;\n\tbh=%s=;\n\tb=",
		    from->domain, s->date, b);
		for (unsigned k = 0; k < 5; k++) {
			mk_alnum(r, b, 68);
			mail_buf_printf(out, "%s%s", k > 0 ? "\n\t  " : "", b);
		}
		mail_buf_append_str(out, "==\n");
	}
}

/* Build message idx (appended to out); *skel_r, when not NULL, receives
 * its skeleton for placing the file. */
static void
mk_message(struct mk_ctx *c, uint64_t idx, bool embed, struct mail_buf *out,
    struct mk_skel *skel_r)
{
	struct mk_person from, to, self, cc;
	struct mk_skel *chain, *s;
	enum mk_kind kind;
	struct mk_rng r;
	const char *sub;
	char date[64];
	bool l1, own;
	size_t n, k;
	unsigned i;

	n = mk_chain(c, idx, &chain);
	s = &chain[0];
	kind = mk_catalog[s->slot].kind;
	own = kind == MK_SENT || kind == MK_DRAFTS;
	mk_rng_init(&r, c->useed, MK_ST_HDR, idx);
	mk_person(c, s->from, &from);
	mk_person(c, s->to, &to);
	mk_person(c, MK_SELF, &self);
	l1 = from.mailer != MK_GMAIL && mk_pct(&r) < 40;
	if (!own)
		mk_trace(out, &r, s, &from, &self);
	mk_date(date, sizeof(date), s->date, from.tz);
	mail_buf_printf(out, "Date: %s\nFrom: ", date);
	mk_hdr_addr(out, &from, l1);
	mail_buf_append_str(out, "\nTo: ");
	if (kind == MK_JUNK && mk_pct(&r) < 50)
		mail_buf_append_str(out, "undisclosed-recipients:;");
	else
		mk_hdr_addr(out, &to, l1);
	if (s->list == 0 && !s->newsletter && kind != MK_JUNK) {
		/* team threads: more recipients, some in Cc */
		for (i = mk_pct(&r) < 25 ? 1 + mk_below(&r, 3) : 0; i > 0;
		     i--) {
			mk_person(c, mk_pick_person(mk_next(&r)), &cc);
			mail_buf_append_str(
			    out, mk_col(out) > 40 ? ",\n\t" : ", ");
			mk_hdr_addr(out, &cc, l1);
		}
		if (mk_pct(&r) < 20) {
			mk_person(c, mk_pick_person(mk_next(&r)), &cc);
			mail_buf_append_str(out, "\nCc: ");
			mk_hdr_addr(out, &cc, l1);
		}
	}
	/* Clients encode after a plain "Re: ", Latin-1 where it fits. */
	mail_buf_append_str(out, "\nSubject: ");
	for (sub = s->subject;
	     strncmp(sub, "Re: ", 4) == 0 || strncmp(sub, "Fwd: ", 5) == 0;
	     sub += sub[0] == 'R' ? 4 : 5)
		mail_buf_append(out, sub, sub[0] == 'R' ? 4 : 5);
	if (mk_is_ascii(sub, strlen(sub)))
		mail_buf_append_str(out, sub);
	else
		mk_ew(out, sub, l1 && mk_is_latin1(sub, strlen(sub)));
	mail_buf_printf(out, "\nMessage-ID: %s\n", s->msgid);
	if (s->reply) {
		/* RFC 5322 3.6.4: the root, then the ten most recent. */
		mail_buf_printf(
		    out, "In-Reply-To: %s\nReferences:", chain[1].msgid);
		for (k = n - 1; k >= 1; k--)
			if (k == n - 1 || k <= 10)
				mail_buf_printf(out, "%s%s",
				    mk_col(out) + strlen(chain[k].msgid) > 76
				        ? "\n "
				        : " ",
				    chain[k].msgid);
		mail_buf_append(out, "\n", 1);
	}
	if (s->list != 0 && !own) {
		const struct mk_list *l = &mk_lists[s->list - 1];
		int at = (int)(strchr(l->addr, '@') - l->addr);

		mail_buf_printf(out,
		    "List-Id: <%.*s.%s>\nList-Post: <mailto:%s>\nList-Unsubscribe: <mailto:%.*s-request@%s?subject=unsubscribe>\nList-Archive: <https://%s/%s/>\nPrecedence: list\n",
		    at, l->addr, l->addr + at + 1, l->addr, at, l->addr,
		    l->addr + at + 1, l->addr + at + 1, l->name);
	}
	if (s->newsletter)
		mail_buf_printf(out,
		    "List-Unsubscribe: <https://%s/unsubscribe>\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\nPrecedence: bulk\n",
		    from.domain);
	if (mk_mailers[from.mailer].hdr != NULL && s->from < MK_BRAND)
		mail_buf_printf(out, "%s\n", mk_mailers[from.mailer].hdr);
	mail_buf_append_str(out, "MIME-Version: 1.0\n");
	mk_body(c, chain, n, embed, out);
	if (skel_r != NULL)
		*skel_r = *s;
	free(chain);
}

/* ---- writing the tree ---- */

struct mk_folder {
	char *dir;
	enum mk_kind kind;
	const char *kw[26]; /* flag letter 'a' + i */
	unsigned nkw;
	char **names; /* file base names, for --uidlist */
	size_t nnames, cap;
};

static void
mk_write(const char *path, const void *p, size_t n, int64_t mtime)
{
	struct timespec ts[2] = {{(time_t)mtime, 0}, {(time_t)mtime, 0}};
	ssize_t w;
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) ==
	    -1)
		mk_die("create '%s': %s", path, strerror(errno));
	for (; n > 0; n -= (size_t)w, p = (const uint8_t *)p + w)
		if ((w = write(fd, p, n)) <= 0)
			mk_die("write '%s': %s", path, strerror(errno));
	if ((mtime != 0 && futimens(fd, ts) == -1) || close(fd) == -1)
		mk_die("close '%s': %s", path, strerror(errno));
}

static char
mk_kw_letter(struct mk_folder *f, const char *kw)
{
	unsigned i;

	for (i = 0; i < f->nkw && strcmp(f->kw[i], kw) != 0; i++)
		;
	mail_assert(i < N_ELEMENTS(f->kw)); /* 11 keywords exist */
	f->kw[i] = kw;
	f->nkw += i == f->nkw;
	return (char)('a' + i);
}

/*
 * Flags as users leave them: mostly seen, some flagged, answered or
 * deleted, drafts in Drafts, keywords on about one in ten. Fills flags
 * (uppercase sorted, then keyword letters sorted, as Dovecot writes
 * them); returns true for new/: recent, unseen and untouched.
 */
static bool
mk_flags(struct mk_rng *r, struct mk_folder *f, const struct mk_skel *s,
    char *flags, size_t sz)
{
	enum mk_kind k = f->kind;
	unsigned seen_pct = k == MK_INBOX ? 76
	    : k == MK_LISTS               ? 66
	    : k == MK_JUNK                ? 40
	    : k == MK_TRASH               ? 95
	    : k == MK_PROJECT             ? 85
	                                  : 99;
	bool own = k == MK_SENT || k == MK_DRAFTS;
	bool seen = own || mk_pct(r) < seen_pct;
	bool flagged = mk_pct(r) < 5;
	bool answered = !own && k != MK_JUNK && mk_pct(r) < 12;
	bool deleted = mk_below(r, 1000) < (k == MK_TRASH ? 150U : 6U);
	char kw[3] = {0}, t;

	if (k == MK_JUNK && mk_pct(r) < 85)
		kw[0] = mk_kw_letter(f, "$Junk");
	if (mk_pct(r) < 8) {
		t = mk_kw_letter(f, MK_PICK(r, mk_keywords));
		kw[kw[0] != 0 && kw[0] != t] = t;
	}
	if (kw[1] != 0 && kw[0] > kw[1]) {
		t = kw[0];
		kw[0] = kw[1];
		kw[1] = t;
	}
	snprintf(flags, sz, "%s%s%s%s%s%s", k == MK_DRAFTS ? "D" : "",
	    flagged ? "F" : "", answered ? "R" : "", seen ? "S" : "",
	    deleted ? "T" : "", kw);
	return flags[0] == '\0' && (k == MK_INBOX || k == MK_LISTS) &&
	    s->date >= MK_END - 45 * 86400;
}

static int
mk_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* dovecot-uidlist version 3: "3 V<uidvalidity> N<next uid> G<guid>", then
 * "<uid> :<base name>" in the order Dovecot would assign UIDs (by name,
 * i.e. delivery time), with the odd gap left by an expunge. */
static void
mk_write_uidlist(struct mk_ctx *c, struct mk_folder *f, unsigned fi)
{
	struct mail_buf b = MAIL_BUF_INIT, lines = MAIL_BUF_INIT;
	uint32_t uid = 0, next;
	struct mk_rng r;
	uint64_t g;
	char *path;

	mk_rng_init(&r, c->useed, MK_ST_UIDL, fi);
	qsort(f->names, f->nnames, sizeof(*f->names), mk_strcmp);
	for (size_t i = 0; i < f->nnames; i++) {
		uid += 1 + (mk_pct(&r) < 3 ? mk_below(&r, 5) : 0);
		mail_buf_printf(&lines, "%u :%s\n", uid, f->names[i]);
	}
	next = uid + 1 + mk_below(&r, 3);
	g = mk_next(&r);
	mail_buf_printf(&b, "3 V%u N%u G%016" PRIx64 "%016" PRIx64 "\n%s",
	    (unsigned)(MK_END - MK_SPAN) + fi, next, g, mk_next(&r),
	    lines.len > 0 ? (const char *)lines.data : "");
	path = mail_xasprintf("%s/dovecot-uidlist", f->dir);
	mk_write(path, b.data, b.len, 0);
	free(path);
	mail_buf_free(&b);
	mail_buf_free(&lines);
}

/* Create the user's folders: the catalog's first N, then archive
 * subfolders when more are asked for. Returns the user directory. */
static char *
mk_user_dirs(
    unsigned u, const char *outdir, struct mk_folder *fs, unsigned nfolders)
{
	static const char *const sub[] = {"", "/cur", "/new", "/tmp"};
	struct mail_buf nb = MAIL_BUF_INIT;
	char *udir = mail_xasprintf("%s/user%u", outdir, u), *path;

	for (unsigned fi = 0; fi < nfolders; fi++) {
		struct mk_folder *f = &fs[fi];

		mail_buf_reset(&nb);
		if (fi < MK_NCAT)
			mk_mutf7(&nb, mk_catalog[fi].name);
		else
			mail_buf_printf(
			    &nb, "Archive.Topic-%03u", fi - MK_NCAT + 1);
		f->kind = fi < MK_NCAT ? mk_catalog[fi].kind : MK_ARCHIVE;
		f->dir = fi == 0
		    ? mail_xstrdup(udir)
		    : mail_xasprintf("%s/.%s", udir, (const char *)nb.data);
		/* all new: the user directory did not exist */
		for (unsigned k = 0; k < 4; k++) {
			path = mail_xasprintf("%s%s", f->dir, sub[k]);
			if (mkdir(path, 0700) == -1)
				mk_die("mkdir '%s': %s", path, strerror(errno));
			free(path);
		}
		if (fi > 0) { /* Maildir++ marks subfolders this way */
			path = mail_xasprintf("%s/maildirfolder", f->dir);
			mk_write(path, "", 0, 0);
			free(path);
		}
	}
	mail_buf_free(&nb);
	return udir;
}

/* Write all users; returns the totals for the summary line. */
static void
mk_tree(struct mk_ctx *c, const char *outdir, uint64_t count, unsigned users,
    unsigned nfolders, bool uidlist, uint64_t tot[3])
{
	struct mk_folder *fs = mail_xcalloc(nfolders, sizeof(*fs)), *f;
	struct mail_buf msg = MAIL_BUF_INIT, kw = MAIL_BUF_INIT;
	unsigned ncat = nfolders < MK_NCAT ? nfolders : MK_NCAT, fi, usec, pid;
	char flags[16], name[128], *path;
	struct mk_skel s;
	struct mk_rng r;
	bool isnew, own;
	uint64_t place;
	int64_t t;

	if (mkdir(outdir, 0755) == -1 && errno != EEXIST)
		mk_die("mkdir '%s': %s", outdir, strerror(errno));
	for (unsigned u = 1; u <= users; u++) {
		c->user = u;
		c->useed = mk_mix(c->seed + u * 0x632be59bd9b4e019ULL);
		free(mk_user_dirs(u, outdir, fs, nfolders));
		for (uint64_t i = 0; i < count; i++) {
			mail_buf_reset(&msg);
			mk_message(c, i, true, &msg, &s);
			/* drawn unconditionally so --folders moves no names */
			mk_rng_init(&r, c->useed, MK_ST_FLAGS, i);
			place = mk_next(&r);
			fi = s.slot < ncat ? s.slot : 0;
			if (nfolders > MK_NCAT &&
			    mk_catalog[s.slot].kind == MK_ARCHIVE &&
			    place % 100 < 60)
				fi = MK_NCAT +
				    (unsigned)((place >> 8) %
				        (nfolders - MK_NCAT));
			f = &fs[fi];
			isnew = mk_flags(&r, f, &s, flags, sizeof(flags));
			own = f->kind == MK_SENT || f->kind == MK_DRAFTS;
			t = own ? s.date : s.date + s.delay;
			usec = mk_below(&r, 1000000);
			pid = 1000 + mk_below(&r, 4000000);
			snprintf(name, sizeof(name),
			    "%" PRId64 ".M%uP%u.%s,S=%zu", t, usec, pid,
			    own                   ? "imap1"
			        : mk_pct(&r) < 70 ? "mx1"
			                          : "mx2",
			    msg.len);
			path = mail_xasprintf("%s/%s/%s%s%s", f->dir,
			    isnew ? "new" : "cur", name, isnew ? "" : ":2,",
			    isnew ? "" : flags);
			mk_write(path, msg.data, msg.len, t);
			free(path);
			if (uidlist) {
				f->names = mail_xgrow(f->names, &f->cap,
				    f->nnames + 1, sizeof(*f->names));
				f->names[f->nnames++] = mail_xstrdup(name);
			}
			tot[0]++;
			tot[1] += msg.len;
		}
		for (fi = 0; fi < nfolders; fi++) {
			f = &fs[fi];
			mail_buf_reset(&kw);
			for (unsigned k = 0; k < f->nkw; k++)
				mail_buf_printf(&kw, "%u %s\n", k, f->kw[k]);
			if (f->nkw > 0) {
				path = mail_xasprintf(
				    "%s/dovecot-keywords", f->dir);
				mk_write(path, kw.data, kw.len, 0);
				free(path);
			}
			if (uidlist)
				mk_write_uidlist(c, f, fi);
			for (size_t k = 0; k < f->nnames; k++)
				free(f->names[k]);
			free(f->names);
			free(f->dir);
			memset(f, 0, sizeof(*f));
		}
		tot[2] += nfolders;
	}
	free(fs);
	mail_buf_free(&msg);
	mail_buf_free(&kw);
}

static uint64_t
mk_num(const char *s, const char *what, uint64_t min, uint64_t max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' || v < min ||
	    v > max)
		mk_die("invalid %s '%s' (expected %" PRIu64 "..%" PRIu64 ")",
		    what, s, min, max);
	return v;
}

static NORETURN void
mk_usage(int code)
{
	fprintf(code == 0 ? stdout : stderr,
	    "usage: mkcorpus [-s SEED] [-n COUNT] [-u USERS] [--folders N] [--uidlist] OUTDIR\n"
	    "       mkcorpus --single [-s SEED] -i INDEX\n"
	    "Writes Maildir++ trees OUTDIR/user1..userUSERS, COUNT messages each\n"
	    "(defaults: seed 1, 1000 messages, 1 user, %u folders), or prints\n"
	    "message INDEX (0-based) of user1. Same seed, same bytes.\n",
	    MK_NCAT);
	exit(code);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"seed", required_argument, NULL, 's'},
	    {"count", required_argument, NULL, 'n'},
	    {"users", required_argument, NULL, 'u'},
	    {"index", required_argument, NULL, 'i'},
	    {"folders", required_argument, NULL, 'f'},
	    {"uidlist", no_argument, NULL, 'L'},
	    {"single", no_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	struct mk_ctx *c = mail_xcalloc(1, sizeof(*c));
	struct mail_buf msg = MAIL_BUF_INIT;
	uint64_t count = 1000, index = UINT64_MAX, tot[3] = {0, 0, 0};
	unsigned users = 1, nfolders = MK_NCAT;
	bool single = false, uidlist = false;
	int ch;

	c->seed = 1;
	while ((ch = getopt_long(argc, argv, "s:n:u:i:h", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			c->seed = mk_num(optarg, "seed", 0, UINT64_MAX);
			break;
		case 'n':
			count = mk_num(optarg, "count", 0, 100000000);
			break;
		case 'u':
			users =
			    (unsigned)mk_num(optarg, "user count", 1, 100000);
			break;
		case 'i':
			index = mk_num(optarg, "index", 0, UINT64_MAX / 2);
			break;
		case 'f':
			nfolders = (unsigned)mk_num(
			    optarg, "folder count", 1, MK_MAX_FOLDERS);
			break;
		case 'L':
			uidlist = true;
			break;
		case 'S':
			single = true;
			break;
		case 'h':
			mk_usage(0);
		default:
			mk_usage(2);
		}
	}
	if (single != (index != UINT64_MAX) || optind + !single != argc)
		mk_usage(2);
	if (single) {
		c->user = 1;
		c->useed = mk_mix(c->seed + 0x632be59bd9b4e019ULL);
		mk_message(c, index, true, &msg, NULL);
		if (fwrite(msg.data, 1, msg.len, stdout) != msg.len ||
		    fflush(stdout) != 0)
			mk_die("write to stdout: %s", strerror(errno));
	} else {
		mk_tree(c, argv[optind], count, users, nfolders, uidlist, tot);
		printf("users %u messages %" PRIu64 " bytes %" PRIu64
		       " folders %" PRIu64 "\n",
		    users, tot[0], tot[1], tot[2]);
	}
	for (unsigned k = 0; k < MK_POOL; k++)
		mail_buf_free(&c->pool[k].b64);
	free(c);
	mail_buf_free(&msg);
	return 0;
}
