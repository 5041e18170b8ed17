/*
 * mkcorpus.c: deterministic generator of a realistic Maildir++ mail corpus,
 * shared by the demo, the integration tests and the benchmarks that compare
 * our tools with Dovecot on the same bytes.
 *
 * Determinism contract. Message i of seed s is a pure function of (s, user,
 * i): it never depends on -n, --folders or on which other messages were
 * generated, so `mkcorpus --single -s S -i I` prints exactly the bytes of
 * message I (0-based) of user1 in a tree made with -s S. Folder placement,
 * flags and file names come from their own PRNG streams, so they never move
 * message bytes. There is no floating point, rand(), locale or time zone
 * anywhere: dates are formatted with gmtime_r() from a fixed "now"
 * (MK_END), so the output is identical on every libc and libm.
 *
 * Threads without state: message i may reply to an earlier message
 * p = i - 1 - k (k < 64). Everything a reply needs from its ancestors
 * (Message-ID, subject, sender, date, folder, the text it quotes) is
 * recomputed by walking that chain, which is short (30% replies, so the
 * expected length is 1.4) and always terminates because p < i.
 *
 * Output layout, as Dovecot writes Maildir++:
 *   OUTDIR/userN/{cur,new,tmp}            INBOX
 *   OUTDIR/userN/.A.B/{cur,new,tmp}       folder A/B, name in modified UTF-7
 *                                         (RFC 3501 5.1.3), plus an empty
 *                                         "maildirfolder" file
 *   cur/TIME.M<usec>P<pid>.<host>,S=<size>:2,<flags>
 *   new/TIME.M<usec>P<pid>.<host>,S=<size>    (unseen, never touched)
 *   dovecot-keywords                      "<n> <keyword>" lines; letter
 *                                         'a' + n in the flags, assigned
 *                                         per folder in order of first use
 *   dovecot-uidlist                       only with --uidlist (version 3)
 * Files are LF-terminated, mode 0600, mtime = delivery time (Dovecot takes
 * INTERNALDATE from the mtime, so both sides of a benchmark agree on it).
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

#define MK_END		1767225600LL	/* fixed "now": 2026-01-01T00:00:00Z */
#define MK_SPAN		(3LL * 365 * 86400)	/* dates cover 3 years */
#define MK_NPEOPLE	400		/* correspondents per seed */
#define MK_NCLOSE	40		/* ... of which frequent contacts */
#define MK_POOL		24		/* attachments shared between messages */
#define MK_MAX_FOLDERS	1000
#define MK_MAX_CHAIN	100000		/* sanity bound, never reached */

/* Person ids: ordinary people below MK_BRAND; the rest are tagged. */
#define MK_BRAND	0x20000000U	/* + newsletter sender index */
#define MK_SPAM		0x30000000U	/* + random 24 bits */
#define MK_LIST		0x40000000U	/* + mailing list index */
#define MK_SELF		0x50000000U	/* the mailbox owner */

/* PRNG stream tags: one per purpose so that e.g. flags can change without
 * shifting message bytes. */
enum mk_stream {
	MK_ST_SKEL = 1, MK_ST_TEXT, MK_ST_BODY, MK_ST_ATT, MK_ST_FLAGS,
	MK_ST_PERSON, MK_ST_SELF, MK_ST_POOL, MK_ST_UIDL, MK_ST_USER,
};

/* ---- PRNG: splitmix64, fast and good enough for test data ---- */

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

#define mk_pct(r)	mk_below((r), 100)
#define MK_PICK(r, a)	((a)[mk_below((r), N_ELEMENTS(a))])

/*
 * Roughly log-uniform in [lo, hi): a uniform octave, then uniform inside
 * it. Real size distributions look like this (many small, a long tail) and
 * integers keep the result identical everywhere.
 */
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

/* ---- the world: folders, lists, people, mail clients ---- */

enum mk_kind {
	MK_INBOX, MK_SENT, MK_DRAFTS, MK_TRASH, MK_JUNK, MK_ARCHIVE,
	MK_PROJECT, MK_LISTS,
};

/* Order matters: --folders N keeps the first N; the rest fall to INBOX. */
static const struct mk_folder_def {
	const char *name;	/* UTF-8, '/' separated */
	enum mk_kind kind;
	unsigned weight;	/* per mille of a user's messages */
	unsigned arg;		/* list index, or archive year */
} mk_catalog[] = {
	{ "INBOX", MK_INBOX, 430, 0 },
	{ "Sent", MK_SENT, 110, 0 },
	{ "Archive", MK_ARCHIVE, 60, 0 },
	{ "Lists/debian-devel", MK_LISTS, 80, 0 },
	{ "Drafts", MK_DRAFTS, 20, 0 },
	{ "Trash", MK_TRASH, 30, 0 },
	{ "Archive/2024", MK_ARCHIVE, 60, 2024 },
	{ "Projects/Ärger", MK_PROJECT, 30, 0 },
	{ "Lists/linux-kernel", MK_LISTS, 60, 1 },
	{ "Archive/2023", MK_ARCHIVE, 40, 2023 },
	{ "Junk", MK_JUNK, 25, 0 },
	{ "Projects", MK_PROJECT, 15, 0 },
	{ "Lists/pgsql-hackers", MK_LISTS, 40, 2 },
};
#define MK_NCAT N_ELEMENTS(mk_catalog)

static const struct mk_list {
	const char *name, *addr, *host;
} mk_lists[] = {
	{ "debian-devel", "debian-devel@lists.debian.org", "bendel.debian.org" },
	{ "linux-kernel", "linux-kernel@vger.kernel.org", "vger.kernel.org" },
	{ "pgsql-hackers", "pgsql-hackers@lists.postgresql.org",
	    "malur.postgresql.org" },
};

/* Mail clients shape a message more than anything else: HTML or not,
 * top- or bottom-posting, Message-ID and boundary formats. */
enum mk_mailer {
	MK_GMAIL, MK_TBIRD, MK_OUTLOOK, MK_APPLE, MK_MUTT, MK_RCUBE,
};
static const struct mk_mailer_def {
	const char *hdr;	/* User-Agent / X-Mailer line, or NULL */
	unsigned html_pct;	/* chance of a text/html alternative */
	unsigned top_pct;	/* chance of top-posting a reply */
} mk_mailers[] = {
	{ NULL, 95, 80 },
	{ "User-Agent: Mozilla Thunderbird 115.6.0", 50, 20 },
	{ "X-Mailer: Microsoft Outlook 16.0", 100, 100 },
	{ "X-Mailer: Apple Mail (2.3731.700.6)", 80, 60 },
	{ "User-Agent: NeoMutt/20231103", 0, 0 },
	{ "User-Agent: Roundcube Webmail/1.6.5", 40, 30 },
};

/* "Display|ascii" where the display form is not ASCII. */
static const char *const mk_first[] = {
	"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael",
	"Linda", "David", "Elizabeth", "William", "Susan", "Thomas", "Jessica",
	"Anna", "Lukas", "Sophie", "Jonas", "Marie", "Felix", "Léa|lea",
	"José|jose", "Zoë|zoe", "Søren|soren", "Björn|bjorn", "Jürgen|juergen",
	"François|francois", "Chloé|chloe", "Ingrid", "Matteo", "Giulia",
	"Hiroshi", "Yuki", "Wei", "Priya", "Arjun", "Olga", "Dmitri", "Fatima",
	"Omar", "Ngozi", "Kwame", "Ana", "Łukasz|lukasz", "Małgorzata|malgorzata",
	"Tomás|tomas", "Siobhán|siobhan", "Ewa", "Pieter", "Astrid",
};
static const char *const mk_last[] = {
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis",
	"Garcia", "Wilson", "Taylor", "Müller|mueller", "Schmidt", "Schneider",
	"Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Dubois",
	"Lefèvre|lefevre", "Rossi", "Russo", "Fernández|fernandez",
	"González|gonzalez", "López|lopez", "Nakamura", "Tanaka", "Chen", "Wang",
	"Kumar", "Patel", "Ivanov", "Kowalski", "Nowak", "Andersson", "Nielsen",
	"Hansen", "O'Brien", "Murphy", "van der Berg", "de Vries",
	"Öztürk|ozturk", "Yılmaz|yilmaz",
};
static const char *const mk_domains[] = {
	"gmail.com", "gmail.com", "googlemail.com", "outlook.com", "hotmail.com",
	"yahoo.com", "yahoo.de", "web.de", "gmx.net", "gmx.de", "posteo.de",
	"mailbox.org", "fastmail.com", "proton.me", "icloud.com", "orange.fr",
	"free.fr", "libero.it", "telefonica.es", "telia.se", "seznam.cz",
	"wp.pl", "mail.ru", "docomo.ne.jp", "acme-corp.com", "example.com",
	"initech.net", "globex.io", "uni-heidelberg.de", "ethz.ch", "mit.edu",
	"cs.ox.ac.uk", "debian.org", "redhat.com", "suse.de", "kernel.org",
	"postgresql.org", "cybertec.at",
};

/* Body languages. Non-English text is what exercises charsets: Latin-1
 * representable ones may be sent as ISO-8859-1, the rest only as UTF-8. */
enum { MK_EN, MK_DE, MK_FR, MK_ES, MK_SV, MK_RU, MK_JA };
static const char *const mk_de[] = {
	"Können wir das Treffen auf Donnerstag verschieben?",
	"Die Größe der Datei überschreitet leider das Limit für Anhänge.",
	"Ich schicke dir die Unterlagen später noch einmal zu.",
	"Über die Änderungen am Zeitplan müssen wir noch einmal reden.",
	"Der Server läuft wieder, die Ursache war ein volles Dateisystem.",
	"Bitte prüfe bis Freitag, ob die Zahlen für das dritte Quartal stimmen.",
	"Danke für die schnelle Rückmeldung!",
};
static const char *const mk_fr[] = {
	"Merci pour ton retour, je regarde ça demain matin.",
	"Le déploiement a échoué à cause d'une dépendance manquante.",
	"Peux-tu vérifier les chiffres avant la réunion de lundi ?",
	"Ça marche, à très bientôt.",
	"J'ai mis à jour le document partagé avec les dernières remarques.",
};
static const char *const mk_es[] = {
	"¿Podrías revisar el presupuesto antes del viernes?",
	"La reunión se ha trasladado a la sala pequeña.",
	"Te envío el informe actualizado mañana por la mañana.",
	"Gracias por tu ayuda con la migración, salió todo bien.",
};
static const char *const mk_sv[] = {
	"Vi ses på mötet i morgon, jag tar med kaffe.",
	"Hälsningar från Göteborg och tack för hjälpen.",
	"Kan du skicka över de senaste siffrorna före lunch?",
	"Servern är uppgraderad och allt verkar fungera.",
};
static const char *const mk_ru[] = {
	"Спасибо за письмо, я отвечу завтра.",
	"Отчёт готов, смотрите вложение.",
	"Давайте перенесём встречу на следующую неделю.",
	"Сервер снова работает, причина была в переполненном диске.",
};
static const char *const mk_ja[] = {
	"会議の資料を添付しました。ご確認ください。",
	"来週の予定について相談させてください。",
	"サーバーの移行は無事に完了しました。",
	"お忙しいところ恐れ入りますが、よろしくお願いいたします。",
};
static const struct mk_lang {
	const char *const *sent;
	unsigned nsent;
	const char *hello, *bye;
} mk_langs[] = {
	{ NULL, 0, "Hi", "Best regards," },
	{ mk_de, N_ELEMENTS(mk_de), "Hallo", "Viele Grüße" },
	{ mk_fr, N_ELEMENTS(mk_fr), "Bonjour", "Bien à toi," },
	{ mk_es, N_ELEMENTS(mk_es), "Hola", "Un saludo," },
	{ mk_sv, N_ELEMENTS(mk_sv), "Hej", "Hälsningar," },
	{ mk_ru, N_ELEMENTS(mk_ru), "Привет", "С уважением," },
	{ mk_ja, N_ELEMENTS(mk_ja), "こんにちは", "よろしくお願いします。" },
};

/* English is assembled from parts so that bodies do not repeat verbatim
 * (which would make compression and dedup look better than reality). */
static const char *const mk_en_open[] = {
	"", "", "", "", "I think", "As discussed,", "Just a heads-up:", "FYI,",
	"Honestly,", "To be fair,", "Unfortunately,", "Good news:",
	"As far as I know,", "In my opinion,", "Quick update:",
};
static const char *const mk_en_subj[] = {
	"the new build", "our release plan", "the patch", "this approach",
	"the budget", "the migration script", "the index rebuild",
	"the test suite", "the customer", "the second draft", "the backup job",
	"the contract", "the offsite", "the dashboard", "the quarterly numbers",
	"the API change", "the printer on the third floor", "the staging server",
	"your proposal", "the documentation", "the vendor's quote",
};
static const char *const mk_en_verb[] = {
	"needs another review", "looks good to me", "breaks on ARM64",
	"was merged yesterday", "should land before the freeze",
	"is blocked by the vendor", "fails intermittently", "takes far too long",
	"is ready for QA", "could use more tests", "has been moved to Thursday",
	"still needs a sign-off from legal", "works fine on my machine",
	"is almost done", "needs to be discussed with the whole team",
	"was approved this morning", "costs about twice what we planned",
};
static const char *const mk_en_tail[] = {
	".", ".", ".", " next week.", " as far as I can tell.",
	", see the attached log.", " unless someone objects.",
	" if we ignore the corner cases.", "?", " - any thoughts?", " for now.",
	" again.", " according to the latest numbers.",
};
static const char *const mk_en_extra[] = {
	"Thanks!", "Let me know if you have questions.",
	"Sorry for the late reply.", "Does that work for you?",
	"I'll follow up tomorrow.", "Happy to discuss on a call.",
};
static const char *const mk_en_bye[] = {
	"Best regards,", "Cheers,", "Thanks,", "Best,", "Kind regards,", "--",
};
static const char *const mk_titles[] = {
	"Senior Engineer", "Project Manager", "Head of Finance",
	"Site Reliability Engineering", "Product Owner", "PhD student",
	"Geschäftsführer", "Account Executive", "Debian Developer",
};

/* '~' in a subject or file name is replaced by a number. */
static const char *const mk_subjects[] = {
	"Meeting notes", "Quarterly report draft", "Lunch on Friday?",
	"Travel plans for the conference", "Updated contract",
	"Budget 2025 — final numbers", "Question about the API",
	"Server maintenance tonight", "Invoice ~", "Your order #~ has shipped",
	"Welcome to the team!", "Photos from the weekend",
	"Reminder: performance reviews due", "Can you take a look?",
	"Password expiry notice", "New office hours", "Happy birthday!",
	"Weekly sync agenda", "Offsite planning", "Bug ~: crash on startup",
	"Slides for tomorrow", "Access request for the staging server",
	"Holiday schedule", "Draft proposal v~", "Grüße aus Köln",
	"Änderungen am Vertrag", "Réunion de lundi", "¿Café mañana?",
	"Prüfbericht für Q~", "Übergabe der Schlüssel", "Встреча в пятницу",
	"会議の議事録", "Déjà vu: the same bug again", "Olá, tudo bem?",
	"Fika på fredag?", "Naïve question about the café budget",
};
static const char *const mk_topics[] = {
	"fix use-after-free in error path", "add support for new hardware",
	"drop unused helper", "avoid deadlock on teardown",
	"document locking rules", "reduce memory footprint of the cache",
	"handle short reads correctly", "make the build reproducible",
	"remove obsolete configure checks", "speed up startup by 30%",
	"switch default compression to zstd", "clarify license of test data",
	"improve error messages for invalid input", "replace home-grown hash",
};
static const char *const mk_subsys[] = {
	"mm", "net", "sched", "fs/ext4", "drm/i915", "btrfs", "x86/mm", "usb",
};
static const char *const mk_news_subj[] = {
	"Your weekly digest", "Ihre Bestellung wurde versandt",
	"Last chance: 50% off everything", "A new sign-in to your account",
	"Your receipt", "Neue Nachricht im Kundenportal",
	"This week in open source", "Security alert for your account",
};
static const char *const mk_junk_subj[] = {
	"You have won a $1000 gift card!!!", "URGENT: verify your account now",
	"Cheap meds – no prescription", "Invest in crypto today",
	"Dear friend, a business proposal",
	"Ihr Paket konnte nicht zugestellt werden",
	"Félicitations ! Vous avez gagné",
};
static const struct mk_brand {
	const char *name, *addr;
} mk_brands[] = {
	{ "GitHub", "noreply@github.com" },
	{ "LinkedIn", "messages-noreply@linkedin.com" },
	{ "Amazon.de", "versandbestaetigung@amazon.de" },
	{ "Deutsche Bahn", "buchungsbestaetigung@bahn.de" },
	{ "The Economist", "newsletters@e.economist.com" },
	{ "Spotify", "no-reply@spotify.com" },
	{ "Hetzner Online", "info@hetzner.com" },
	{ "Zalando", "info@service-mail.zalando.de" },
};
static const char *const mk_spam_names[] = {
	"Customer Support", "PayPaI Security", "Lottery Commission",
	"Dr. Jonathan Mbeki", "Prime Rewards", "Paketdienst",
};
static const char *const mk_spam_domains[] = {
	"secure-login-verify.top", "mail-promo.xyz", "bestdeals4u.biz",
	"winner-claim.info",
};

/* Attachments: a real magic number, then incompressible bytes, which is
 * what PDF streams, JPEG, PNG and ZIP payloads look like to a store. */
#define MK_BYTES(s) s, sizeof(s) - 1
static const struct mk_atype {
	const char *mime, *ext;
	const char *magic;
	size_t	 magic_len;
	const char *names[4];
	unsigned weight;	/* percent */
} mk_atypes[] = {
	{ "application/pdf", "pdf",
	    MK_BYTES("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog "
	    "/Pages 2 0 R >>\nendobj\n4 0 obj\n<< /Filter /FlateDecode >>\n"
	    "stream\n"),
	    { "Invoice_~", "Präsentation_final", "report-q~", "Kontoauszug_~" },
	    40 },
	{ "image/jpeg", "jpg", MK_BYTES("\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01"),
	    { "IMG_~", "DSC0~", "photo", "IMG_~" }, 20 },
	{ "image/png", "png", MK_BYTES("\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
	    { "Screenshot ~", "image", "diagram-v~", "Bildschirmfoto ~" }, 12 },
	{ "application/zip", "zip", MK_BYTES("PK\x03\x04\x14\0\0\0\x08\0"),
	    { "logs-~", "backup", "source-~", "fotos" }, 10 },
	{ "application/vnd.openxmlformats-officedocument.wordprocessingml."
	    "document", "docx", MK_BYTES("PK\x03\x04\x14\0\x06\0\x08\0"),
	    { "Protokoll_Sitzung", "minutes-~", "Lebenslauf", "contract_v~" },
	    10 },
	{ "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	    "xlsx", MK_BYTES("PK\x03\x04\x14\0\x06\0\x08\0"),
	    { "budget_~", "Übersicht_Kosten", "timesheet-~", "Q~ numbers" }, 8 },
};

/* ---- the generator state ---- */

struct mk_pooled {
	bool	 ready;
	unsigned type;
	char	 name[64];
	size_t	 size;			/* decoded bytes */
	struct mail_buf b64;		/* encoded once, reused verbatim */
};

struct mk_ctx {
	uint64_t seed;			/* -s: the shared world */
	uint64_t useed;			/* this user's message streams */
	unsigned user;			/* 1-based */
	struct mk_pooled pool[MK_POOL];
};

struct mk_person {
	char	 name[96];		/* UTF-8 display name */
	char	 first[48];
	char	 addr[96];
	const char *domain;		/* points into addr */
	int	 tz;			/* minutes east of UTC */
	unsigned mailer, lang;
	bool	 sig, last_first;
};

/* What a message is, before any bytes: enough for replies to refer to it. */
struct mk_skel {
	uint64_t idx, parent;
	bool	 reply, newsletter, fwd;
	unsigned slot;			/* index into mk_catalog */
	unsigned list;			/* list index + 1 in list threads */
	uint32_t from, to;		/* person ids */
	int64_t	 date;			/* Date: header, epoch seconds */
	unsigned delay;			/* seconds until delivery */
	unsigned natt;			/* attachments */
	unsigned r_reply, r_slot, r_inh, r_news;	/* raw draws */
	uint64_t r_from, r_to, r_date, r_subj, r_id;
	char	 subject[200];		/* UTF-8, not yet encoded */
	char	 msgid[128];
};

static NORETURN PRINTF_LIKE(1, 2) void
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

/* Column of the end of b, for header folding. */
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
	const uint8_t *s = p;

	for (size_t i = 0; i < n; i++)
		if (s[i] >= 0x80)
			return false;
	return true;
}

/* True when all of s (UTF-8) fits ISO-8859-1. */
static bool
mk_is_latin1(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] >= 0x80 && s[i] != 0xc2 && s[i] != 0xc3 &&
		    (s[i] & 0xc0) != 0x80)
			return false;
	return true;
}

static size_t
mk_utf8_len(uint8_t c)
{
	return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

/* Copy s replacing each '~' with a number, as subjects and names vary. */
static void
mk_fill(char *dst, size_t dstsz, const char *s, struct mk_rng *r)
{
	struct mail_buf b = MAIL_BUF_INIT;

	for (; *s != '\0'; s++) {
		if (*s == '~')
			mail_buf_printf(&b, "%u", 1 + mk_below(r, 9999));
		else
			mail_buf_append(&b, s, 1);
	}
	snprintf(dst, dstsz, "%s", (const char *)b.data);
	mail_buf_free(&b);
}

/* ---- encoders ---- */

static const char mk_b64tab[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* RFC 2045 6.8 base64 in 76-column lines; written in place because the
 * attachments are most of the corpus bytes. */
static void
mk_base64(struct mail_buf *out, const uint8_t *p, size_t n)
{
	size_t olen = (n + 2) / 3 * 4, i, col = 0;
	char *o;
	uint32_t v;

	mail_buf_reserve(out, olen + olen / 76 + 2);
	o = (char *)out->data + out->len;
	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = mk_b64tab[v >> 18];
		*o++ = mk_b64tab[(v >> 12) & 63];
		*o++ = mk_b64tab[(v >> 6) & 63];
		*o++ = mk_b64tab[v & 63];
		if ((col += 4) == 76) {
			*o++ = '\n';
			col = 0;
		}
	}
	if (i < n) {
		v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
		*o++ = mk_b64tab[v >> 18];
		*o++ = mk_b64tab[(v >> 12) & 63];
		*o++ = i + 1 < n ? mk_b64tab[(v >> 6) & 63] : '=';
		*o++ = '=';
		col += 4;
	}
	if (col > 0)
		*o++ = '\n';
	out->len = (size_t)(o - (char *)out->data);
	out->data[out->len] = '\0';
}

/* RFC 2045 6.7 quoted-printable: LF stays a hard break, lines are soft-
 * broken at 76 columns, trailing white space is encoded. */
static void
mk_qp(struct mail_buf *out, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;
	char e[3];

	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		bool enc = c >= 0x7f || c == '=' || (c < 32 && c != '\t') ||
		    ((c == ' ' || c == '\t') && (i + 1 == n || p[i + 1] == '\n'));

		if (c == '\n') {
			mail_buf_append(out, "\n", 1);
			col = 0;
			continue;
		}
		if (col + (enc ? 3 : 1) > 75) {
			mail_buf_append(out, "=\n", 2);
			col = 0;
		}
		if (enc) {
			e[0] = '=';
			e[1] = hex[c >> 4];
			e[2] = hex[c & 15];
			mail_buf_append(out, e, 3);
		} else
			mail_buf_append(out, &c, 1);
		col += enc ? 3 : 1;
	}
	if (n > 0 && p[n - 1] != '\n')
		mail_buf_append(out, "\n", 1);
}

/* UTF-8 -> ISO-8859-1 for text that passed mk_is_latin1(). */
static void
mk_to_latin1(struct mail_buf *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];

		if (c >= 0xc2 && i + 1 < n) {
			c = (uint8_t)(((c & 0x1f) << 6) | (p[++i] & 0x3f));
		}
		mail_buf_append(out, &c, 1);
	}
}

enum mk_ew_mode {
	MK_EW_B, MK_EW_Q, MK_EW_Q_LATIN1,
};

/* RFC 2047 5(3): the characters Q may leave alone even in a phrase. */
static bool
mk_qsafe(uint8_t c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' &&
	    (c | 0x20) <= 'z') || (c != '\0' && strchr("!*+-/", c) != NULL);
}

/* Write one encoded word, folding first when it would pass column 76. */
static void
mk_ew_flush(struct mail_buf *out, const char *cs, enum mk_ew_mode mode,
    const uint8_t *raw, size_t rl, bool first)
{
	static const char hex[] = "0123456789ABCDEF";
	struct mail_buf w = MAIL_BUF_INIT;

	mail_buf_printf(&w, "=?%s?%c?", cs, mode == MK_EW_B ? 'B' : 'Q');
	if (mode == MK_EW_B) {
		mk_base64(&w, raw, rl);
		w.len--;	/* drop the newline: one short line */
	} else {
		for (size_t k = 0; k < rl; k++) {
			char e[3] = { '=', hex[raw[k] >> 4], hex[raw[k] & 15] };

			if (raw[k] == ' ')
				mail_buf_append(&w, "_", 1);
			else if (mk_qsafe(raw[k]))
				mail_buf_append(&w, raw + k, 1);
			else
				mail_buf_append(&w, e, 3);
		}
	}
	mail_buf_append(&w, "?=", 2);
	if (!first)
		mail_buf_append_str(out, mk_col(out) + 1 + w.len > 76 ? "\n " : " ");
	mail_buf_append(out, w.data, w.len);
	mail_buf_free(&w);
}

/*
 * Append UTF-8 s as RFC 2047 encoded words. A word holds whole characters
 * (section 5: a multi-octet character must not be split) and is at most
 * 75 chars; the first gets what is left of the current line. Q uses the
 * restricted phrase set, so the result is valid in display names too.
 */
static void
mk_ew(struct mail_buf *out, const char *s, enum mk_ew_mode mode)
{
	const char *cs = mode == MK_EW_Q_LATIN1 ? "ISO-8859-1" : "UTF-8";
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strlen(s), i = 0, rl = 0, el = 0, cap, clen, add, k;
	size_t overhead = strlen(cs) + 7;
	uint8_t raw[64], cb[4];
	bool first = true;

	while (i < n) {
		clen = mk_utf8_len(p[i]);
		if (clen > n - i)
			clen = n - i;
		memcpy(cb, p + i, clen);
		if (mode == MK_EW_Q_LATIN1 && clen == 2) {
			cb[0] = (uint8_t)(((cb[0] & 0x1f) << 6) | (cb[1] & 0x3f));
			clen = 1;
		}
		cap = 75 - overhead;
		if (first && mk_col(out) + overhead + 20 < 76)
			cap = 76 - mk_col(out) - overhead;
		else if (first)
			cap = 20;
		for (k = 0, add = 0; k < clen; k++)
			add += mode == MK_EW_B || cb[k] == ' ' ||
			    mk_qsafe(cb[k]) ? 1 : 3;
		if ((mode == MK_EW_B ? (rl + add + 2) / 3 * 4 : el + add) > cap) {
			mk_ew_flush(out, cs, mode, raw, rl, first);
			first = false;
			rl = el = 0;
		}
		memcpy(raw + rl, cb, clen);
		rl += clen;
		el += add;
		i += mk_utf8_len(p[i]);
	}
	if (rl > 0)
		mk_ew_flush(out, cs, mode, raw, rl, first);
}

/* Modified UTF-7 (RFC 3501 5.1.3), which Dovecot's Maildir++ layout uses
 * for folder names; '/' becomes the Maildir++ separator '.'. */
static void
mk_mutf7(struct mail_buf *out, const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	uint8_t u16[256];
	size_t ul, k;
	uint32_t cp, bits;
	int nbits;
	char c64;

	while (*p != '\0') {
		if (*p < 0x80) {
			if (*p == '&')
				mail_buf_append_str(out, "&-");
			else
				mail_buf_append(out, *p == '/' ? (const void *)"." : p, 1);
			p++;
			continue;
		}
		for (ul = 0; *p >= 0x80 && ul + 4 <= sizeof(u16);) {
			size_t len = mk_utf8_len(*p);

			cp = len == 2 ? *p & 0x1f : len == 3 ? *p & 0x0f : *p & 7;
			for (k = 1; k < len && (p[k] & 0xc0) == 0x80; k++)
				cp = cp << 6 | (p[k] & 0x3f);
			p += k;
			if (cp >= 0x10000) {	/* surrogate pair */
				cp -= 0x10000;
				u16[ul++] = (uint8_t)(0xd8 | (cp >> 18));
				u16[ul++] = (uint8_t)(cp >> 10);
				cp = 0xdc00 | (cp & 0x3ff);
			}
			u16[ul++] = (uint8_t)(cp >> 8);
			u16[ul++] = (uint8_t)cp;
		}
		mail_buf_append(out, "&", 1);
		/* base64 of UTF-16BE, ',' for '/', no padding */
		for (k = 0, bits = 0, nbits = 0; k <= ul; k++) {
			if (k < ul) {
				bits = bits << 8 | u16[k];
				nbits += 8;
			} else if (nbits > 0) {
				bits <<= 6 - nbits;
				nbits = 6;
			}
			for (; nbits >= 6; nbits -= 6) {
				c64 = mk_b64tab[(bits >> (nbits - 6)) & 63];
				mail_buf_append(out, c64 == '/' ? "," : &c64, 1);
			}
		}
		mail_buf_append(out, "-", 1);
	}
}

/* RFC 5322 3.3 date in the sender's zone, without touching TZ. */
static void
mk_date(char *buf, size_t sz, int64_t t, int tz)
{
	static const char *const wday[] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
	};
	static const char *const mon[] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
		"Oct", "Nov", "Dec",
	};
	time_t lt = (time_t)(t + tz * 60);
	struct tm tm;
	int a = tz < 0 ? -tz : tz;

	gmtime_r(&lt, &tm);
	snprintf(buf, sz, "%s, %d %s %04d %02d:%02d:%02d %c%02d%02d",
	    wday[tm.tm_wday], tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, tz < 0 ? '-' : '+', a / 60, a % 60);
}

static void
mk_alnum(struct mk_rng *r, char *buf, size_t n, bool upper_only)
{
	static const char set[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz";

	for (size_t i = 0; i < n; i++)
		buf[i] = set[mk_below(r, upper_only ? 36 : 62)];
	buf[n] = '\0';
}

/* ---- people ---- */

static void
mk_split_name(const char *e, char *disp, size_t dsz, char *ascii, size_t asz)
{
	const char *bar = strchr(e, '|');
	const char *a = bar != NULL ? bar + 1 : e;
	size_t j = 0;

	snprintf(disp, dsz, "%.*s", (int)(bar != NULL ? (size_t)(bar - e) :
	    strlen(e)), e);
	for (; *a != '\0' && j + 1 < asz; a++) {
		if ((*a >= 'A' && *a <= 'Z') || (*a >= 'a' && *a <= 'z'))
			ascii[j++] = (char)(*a | 0x20);
	}
	ascii[j] = '\0';
}

static bool
mk_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && strcmp(s + n - m, suf) == 0;
}

static void
mk_person(const struct mk_ctx *c, uint32_t id, struct mk_person *p)
{
	static const int tzs[] = { -480, -300, 0, 60, 330, 600, -180, 60 };
	char first[48], last[48], fa[48], la[48];
	const char *dom;
	struct mk_rng r;
	unsigned n;

	memset(p, 0, sizeof(*p));
	p->tz = 60;
	if (id >= MK_LIST && id < MK_SELF) {
		snprintf(p->addr, sizeof(p->addr), "%s", mk_lists[id - MK_LIST].addr);
		p->domain = strchr(p->addr, '@') + 1;
		return;
	}
	if (id >= MK_BRAND && id < MK_SPAM) {
		snprintf(p->name, sizeof(p->name), "%s", mk_brands[id - MK_BRAND].name);
		snprintf(p->addr, sizeof(p->addr), "%s", mk_brands[id - MK_BRAND].addr);
		p->domain = strchr(p->addr, '@') + 1;
		p->mailer = MK_RCUBE;
		return;
	}
	if (id >= MK_SPAM && id < MK_LIST) {
		mk_rng_init(&r, c->seed, MK_ST_PERSON, id);
		snprintf(p->name, sizeof(p->name), "%s", MK_PICK(&r, mk_spam_names));
		n = mk_below(&r, 1000);
		snprintf(p->addr, sizeof(p->addr), "noreply%u@%s", n,
		    MK_PICK(&r, mk_spam_domains));
		p->domain = strchr(p->addr, '@') + 1;
		p->tz = tzs[mk_below(&r, N_ELEMENTS(tzs))];
		p->mailer = MK_OUTLOOK;
		return;
	}
	mk_rng_init(&r, c->seed, id == MK_SELF ? MK_ST_SELF : MK_ST_PERSON,
	    id == MK_SELF ? c->user : id);
	mk_split_name(MK_PICK(&r, mk_first), first, sizeof(first), fa, sizeof(fa));
	mk_split_name(MK_PICK(&r, mk_last), last, sizeof(last), la, sizeof(la));
	snprintf(p->first, sizeof(p->first), "%s", first);
	p->last_first = mk_pct(&r) < 8;
	if (p->last_first)
		snprintf(p->name, sizeof(p->name), "%s, %s", last, first);
	else
		snprintf(p->name, sizeof(p->name), "%s %s", first, last);
	p->sig = mk_pct(&r) < 60;
	if (id == MK_SELF) {
		snprintf(p->addr, sizeof(p->addr), "user%u@example.org", c->user);
		p->mailer = (unsigned[]){ MK_TBIRD, MK_OUTLOOK, MK_APPLE,
		    MK_RCUBE }[mk_below(&r, 4)];
		p->domain = strchr(p->addr, '@') + 1;
		return;
	}
	dom = MK_PICK(&r, mk_domains);
	switch (n = mk_below(&r, 5)) {
	case 0:
		snprintf(p->addr, sizeof(p->addr), "%s.%s@%s", fa, la, dom);
		break;
	case 1:
		snprintf(p->addr, sizeof(p->addr), "%c%s@%s", fa[0], la, dom);
		break;
	case 2:
		snprintf(p->addr, sizeof(p->addr), "%s%u@%s", fa,
		    mk_below(&r, 100), dom);
		break;
	default:
		snprintf(p->addr, sizeof(p->addr), "%s%s%s@%s", fa,
		    n == 3 ? "_" : "", la, dom);
	}
	p->domain = strchr(p->addr, '@') + 1;
	/* Language and zone follow the domain, so a German writes German. */
	p->lang = MK_EN;
	if ((mk_suffix(dom, ".de") || mk_suffix(dom, ".at") ||
	    mk_suffix(dom, ".ch")) && mk_pct(&r) < 70)
		p->lang = MK_DE;
	else if (mk_suffix(dom, ".fr"))
		p->lang = MK_FR;
	else if (mk_suffix(dom, ".es"))
		p->lang = MK_ES;
	else if (mk_suffix(dom, ".se"))
		p->lang = MK_SV;
	else if (mk_suffix(dom, ".ru"))
		p->lang = MK_RU;
	else if (mk_suffix(dom, ".jp"))
		p->lang = MK_JA;
	p->tz = p->lang == MK_RU ? 180 : p->lang == MK_JA ? 540 :
	    p->lang != MK_EN ? 60 : tzs[mk_below(&r, N_ELEMENTS(tzs))];
	if (strstr(dom, "gmail") != NULL)
		p->mailer = MK_GMAIL;
	else if (strstr(dom, "outlook") != NULL || strstr(dom, "hotmail") != NULL)
		p->mailer = MK_OUTLOOK;
	else
		p->mailer = mk_below(&r, N_ELEMENTS(mk_mailers));
}

/* A correspondent: mostly the frequent contacts, as in real mailboxes. */
static uint32_t
mk_pick_person(uint64_t r)
{
	return (uint32_t)(r % 100 < 60 ? (r >> 8) % MK_NCLOSE :
	    (r >> 8) % MK_NPEOPLE);
}

/* ---- skeletons and threads ---- */

static unsigned
mk_list_slot(unsigned list)
{
	for (unsigned i = 0; i < MK_NCAT; i++)
		if (mk_catalog[i].kind == MK_LISTS && mk_catalog[i].arg == list)
			return i;
	return 0;
}

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
	s->reply = idx > 0 && s->r_reply < 30;
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
	s->natt = a < 38 ? 1 : a < 48 ? 2 : a < 51 ? 3 : 0;
	s->fwd = mk_pct(&r) < 40;
}

/* Message-ID in the style of the sender's client (they differ a lot in
 * length and shape, which matters to index and hash structures). */
static void
mk_msgid(const struct mk_ctx *c, struct mk_skel *s)
{
	struct mk_person p;
	struct mk_rng r;
	char a[64];
	uint64_t x;

	mk_person(c, s->from, &p);
	mk_rng_init(&r, s->r_id, 0, 0);
	x = mk_next(&r);
	switch (p.mailer) {
	case MK_GMAIL:
		mk_alnum(&r, a, 44, false);
		snprintf(s->msgid, sizeof(s->msgid), "<CA%s@mail.gmail.com>", a);
		break;
	case MK_OUTLOOK:
		mk_alnum(&r, a, 8, true);
		snprintf(s->msgid, sizeof(s->msgid),
		    "<AM%uPR%02uMB%04u%s%016" PRIX64 "@AM%uPR%02uMB%04u.eurprd%02u.prod.outlook.com>",
		    (unsigned)(x % 9), (unsigned)(x >> 8) % 99,
		    (unsigned)(x >> 16) % 9999, a, mk_next(&r), (unsigned)(x % 9),
		    (unsigned)(x >> 8) % 99, (unsigned)(x >> 16) % 9999,
		    (unsigned)(x >> 32) % 10);
		break;
	case MK_MUTT:
		mk_alnum(&r, a, 10, false);
		snprintf(s->msgid, sizeof(s->msgid), "<%" PRId64 ".%s@%s>",
		    s->date, a, p.domain);
		break;
	case MK_RCUBE:
		snprintf(s->msgid, sizeof(s->msgid), "<%016" PRIx64 "%016" PRIx64
		    "@%s>", x, mk_next(&r), p.domain);
		break;
	default:
		snprintf(s->msgid, sizeof(s->msgid), p.mailer == MK_APPLE ?
		    "<%08" PRIX64 "-%04" PRIX64 "-%012" PRIX64 "@%s>" :
		    "<%08" PRIx64 "-%04" PRIx64 "-%012" PRIx64 "@%s>",
		    x >> 32, x & 0xffff, mk_next(&r) >> 16, p.domain);
	}
}

static void
mk_root_subject(struct mk_skel *s, enum mk_kind kind)
{
	struct mk_rng r;
	const char *sub;
	unsigned v, k;
	char t[160];

	mk_rng_init(&r, s->r_subj, 0, 0);
	if (kind == MK_JUNK)
		mk_fill(t, sizeof(t), MK_PICK(&r, mk_junk_subj), &r);
	else if (s->newsletter)
		mk_fill(t, sizeof(t), MK_PICK(&r, mk_news_subj), &r);
	else if (s->list == 2) {
		v = 2 + mk_below(&r, 4);
		k = 1 + mk_below(&r, 7);
		sub = MK_PICK(&r, mk_subsys);
		snprintf(t, sizeof(t), "[PATCH v%u %u/%u] %s: %s", v, k,
		    k + mk_below(&r, 5), sub, MK_PICK(&r, mk_topics));
	} else if (s->list != 0) {
		sub = (const char *[]){ "Bug#1061234: ", "Proposal: ",
		    "[RFC] ", "", "[PATCH] " }[mk_below(&r, 5)];
		snprintf(t, sizeof(t), "%s%s", sub, MK_PICK(&r, mk_topics));
	}
	else
		mk_fill(t, sizeof(t), MK_PICK(&r, mk_subjects), &r);
	snprintf(s->subject, sizeof(s->subject), "%s%s", s->fwd ? "Fwd: " : "",
	    t);
}

static unsigned
mk_pick_slot(unsigned r)
{
	unsigned acc = 0;

	for (unsigned i = 0; i < MK_NCAT; i++)
		if (r < (acc += mk_catalog[i].weight))
			return i;
	return 0;
}

static void
mk_resolve_root(const struct mk_ctx *c, struct mk_skel *s)
{
	const struct mk_folder_def *f;

	s->reply = false;
	s->slot = mk_pick_slot(s->r_slot);
	f = &mk_catalog[s->slot];
	s->list = f->kind == MK_LISTS ? f->arg + 1 : 0;
	s->newsletter = (f->kind == MK_INBOX || f->kind == MK_TRASH ||
	    f->kind == MK_ARCHIVE) && s->r_news < 14;
	if (f->kind == MK_ARCHIVE && f->arg != 0)
		s->date = 86400LL * (365 * (f->arg - 1970) + (f->arg - 1969) / 4 -
		    (f->arg - 1901) / 100 + (f->arg - 1601) / 400) +
		    (int64_t)(s->r_date % (365 * 86400));
	else
		s->date = MK_END - 1 - (int64_t)(s->r_date % MK_SPAN);
	if (f->kind == MK_SENT || f->kind == MK_DRAFTS) {
		s->from = MK_SELF;
		s->to = mk_pick_person(s->r_to);
	} else if (f->kind == MK_LISTS) {
		s->from = (uint32_t)(s->r_from % MK_NPEOPLE);
		s->to = MK_LIST + f->arg;
	} else {
		s->from = f->kind == MK_JUNK ? MK_SPAM + (uint32_t)(s->r_from >> 40) :
		    s->newsletter ? MK_BRAND + (uint32_t)(s->r_from %
		    N_ELEMENTS(mk_brands)) : mk_pick_person(s->r_from);
		s->to = MK_SELF;
	}
	if (f->kind == MK_JUNK || s->newsletter || (s->list != 0 &&
	    s->r_news >= 20))
		s->natt = 0;
	s->fwd = s->fwd && s->natt > 0;
	mk_root_subject(s, f->kind);
	mk_msgid(c, s);
}

/* Who answers whom: my replies go to Sent, answers to my mail arrive in
 * INBOX, list threads stay on their list. */
static void
mk_resolve_reply(const struct mk_ctx *c, struct mk_skel *s,
    const struct mk_skel *p)
{
	enum mk_kind pk = mk_catalog[p->slot].kind;
	int64_t d;
	unsigned oct;

	if (pk == MK_JUNK || pk == MK_DRAFTS || p->newsletter) {
		mk_resolve_root(c, s);
		return;
	}
	s->list = p->list;
	if (p->list != 0) {
		s->slot = s->r_inh < 15 ? 1 : mk_list_slot(p->list - 1);
		s->from = s->slot == 1 ? MK_SELF : (uint32_t)(s->r_from % MK_NPEOPLE);
		s->to = MK_LIST + p->list - 1;
	} else if (p->from == MK_SELF) {
		s->slot = s->r_inh < 85 ? 0 : 2;
		s->from = p->to < MK_BRAND ? p->to : mk_pick_person(s->r_from);
		s->to = MK_SELF;
	} else {
		s->slot = s->r_inh < 40 ? 1 : s->r_inh < 43 ? 4 : p->slot;
		s->from = s->slot == 1 || s->slot == 4 ? MK_SELF :
		    s->r_inh < 70 ? p->from : mk_pick_person(s->r_from);
		s->to = s->from == MK_SELF ? p->from : MK_SELF;
	}
	/* Answers come minutes to days later: 1 min << (0..11) octaves. */
	oct = (unsigned)(s->r_date % 12);
	d = (60LL << oct) + (int64_t)((s->r_date >> 8) % (60ULL << oct));
	s->date = p->date + d < MK_END ? p->date + d : MK_END - 1;
	s->fwd = false;
	snprintf(s->subject, sizeof(s->subject), "%s%s",
	    strncmp(p->subject, "Re: ", 4) == 0 ? "" : "Re: ", p->subject);
	mk_msgid(c, s);
}

/*
 * Fill *chain_r with message idx and its ancestors, resolved: element 0 is
 * the message, element k+1 the parent of element k while element k is a
 * reply. Returns the number of valid elements (caller frees *chain_r).
 */
static size_t
mk_chain(const struct mk_ctx *c, uint64_t idx, struct mk_skel **chain_r)
{
	struct mk_skel *ch = NULL;
	size_t n = 0, cap = 0, k;

	for (;;) {
		ch = mail_xgrow(ch, &cap, n + 1, sizeof(*ch));
		mk_skel_raw(c, idx, &ch[n]);
		if (!ch[n++].reply || n >= MK_MAX_CHAIN)
			break;
		idx = ch[n - 1].parent;
	}
	mk_resolve_root(c, &ch[n - 1]);
	for (k = n - 1; k-- > 0;)
		mk_resolve_reply(c, &ch[k], &ch[k + 1]);
	for (k = 0; k < n && ch[k].reply; k++)
		;
	*chain_r = ch;
	return k + 1 < n ? k + 1 : n;
}

/* ---- text ---- */

/* Append word with wrapping at 72 columns, as mail clients do. */
static void
mk_words(struct mail_buf *out, size_t *col, const char *s)
{
	while (*s != '\0') {
		const char *sp = strchr(s, ' ');
		size_t n = sp != NULL ? (size_t)(sp - s) : strlen(s);

		if (*col > 0 && *col + 1 + n > 72) {
			mail_buf_append(out, "\n", 1);
			*col = 0;
		} else if (*col > 0) {
			mail_buf_append(out, " ", 1);
			(*col)++;
		}
		mail_buf_append(out, s, n);
		*col += n;
		s += n;
		while (*s == ' ')
			s++;
	}
}

static void
mk_sentence(struct mk_rng *r, unsigned lang, char *buf, size_t sz)
{
	const char *o, *subj, *verb;

	if (lang != MK_EN) {
		snprintf(buf, sz, "%s", mk_langs[lang].sent[mk_below(r,
		    mk_langs[lang].nsent)]);
		return;
	}
	if (mk_pct(r) < 10) {
		snprintf(buf, sz, "%s", MK_PICK(r, mk_en_extra));
		return;
	}
	o = MK_PICK(r, mk_en_open);
	subj = MK_PICK(r, mk_en_subj);
	verb = MK_PICK(r, mk_en_verb);
	snprintf(buf, sz, "%s%s%c%s %s%s", o, *o != '\0' ? " " : "",
	    *o != '\0' ? subj[0] : subj[0] - 32, subj + 1, verb,
	    MK_PICK(r, mk_en_tail));
}

static void
mk_paragraph(struct mk_rng *r, unsigned lang, struct mail_buf *out)
{
	unsigned n = 1 + mk_below(r, 5);
	size_t col = 0;
	char s[256];

	while (n-- > 0) {
		mk_sentence(r, lang, s, sizeof(s));
		mk_words(out, &col, s);
	}
	mail_buf_append(out, "\n", 1);
}

/* What the sender of s wrote: greeting, paragraphs, closing, signature. A
 * pure function of s, so a reply can quote its parent verbatim. */
static void
mk_own_text(const struct mk_ctx *c, const struct mk_skel *s,
    struct mail_buf *out)
{
	struct mk_person from, to;
	struct mk_rng r;
	unsigned np;

	mk_rng_init(&r, c->useed, MK_ST_TEXT, s->idx);
	mk_person(c, s->from, &from);
	mk_person(c, s->to, &to);
	if (to.first[0] != '\0')
		mail_buf_printf(out, "%s %s,\n\n", mk_langs[from.lang].hello,
		    to.first);
	else if (from.lang == MK_EN && mk_pct(&r) < 50)
		mail_buf_append_str(out, "Hi all,\n\n");
	/* Mostly one to three paragraphs, sometimes an essay. */
	np = 1 + mk_below(&r, 3);
	if (mk_pct(&r) < 25)
		np += mk_below(&r, 5);
	if (mk_pct(&r) < 5)
		np += mk_below(&r, 15);
	while (np-- > 0) {
		mk_paragraph(&r, from.lang, out);
		mail_buf_append(out, "\n", 1);
	}
	mail_buf_printf(out, "%s\n%s\n", from.lang == MK_EN ?
	    MK_PICK(&r, mk_en_bye) : mk_langs[from.lang].bye, from.first[0] !=
	    '\0' ? from.first : from.name);
	if (from.sig)
		mail_buf_printf(out, "\n-- \n%s\n%s, %s\n", from.name,
		    MK_PICK(&r, mk_titles), from.domain);
}

/* Prefix every line of t with '>' (and a space before unquoted text). */
static void
mk_quote(struct mail_buf *out, const struct mail_buf *t)
{
	size_t i = 0, e;

	while (i < t->len) {
		for (e = i; e < t->len && t->data[e] != '\n'; e++)
			;
		mail_buf_append_str(out, e == i || t->data[i] == '>' ? ">" : "> ");
		mail_buf_append(out, t->data + i, e - i);
		mail_buf_append(out, "\n", 1);
		i = e + 1;
	}
}

/*
 * The plain text of chain[k]: its own words plus, for replies, the quoted
 * parent. Clients trim long histories, so quoting stops two levels deep.
 */
static void
mk_plain(const struct mk_ctx *c, const struct mk_skel *chain, size_t n,
    size_t k, unsigned depth, struct mail_buf *out)
{
	struct mail_buf own = MAIL_BUF_INIT, q = MAIL_BUF_INIT;
	struct mk_person from, pf;
	char date[64];
	bool top;

	mk_own_text(c, &chain[k], &own);
	if (!chain[k].reply || k + 1 >= n || depth >= 2) {
		mail_buf_append(out, own.data, own.len);
		mail_buf_free(&own);
		return;
	}
	mk_plain(c, chain, n, k + 1, depth + 1, &q);
	mk_person(c, chain[k].from, &from);
	mk_person(c, chain[k + 1].from, &pf);
	top = chain[k].r_id % 100 < mk_mailers[from.mailer].top_pct;
	if (top) {
		mail_buf_append(out, own.data, own.len);
		mail_buf_append(out, "\n", 1);
	}
	mk_date(date, sizeof(date), chain[k + 1].date, from.tz);
	mail_buf_printf(out, "On %s, %s <%s> wrote:\n", date, pf.name, pf.addr);
	mk_quote(out, &q);
	if (!top) {
		mail_buf_append(out, "\n", 1);
		mail_buf_append(out, own.data, own.len);
	}
	mail_buf_free(&own);
	mail_buf_free(&q);
}

static void
mk_html_escape(struct mail_buf *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (p[i]) {
		case '&':
			mail_buf_append_str(out, "&amp;");
			break;
		case '<':
			mail_buf_append_str(out, "&lt;");
			break;
		case '>':
			mail_buf_append_str(out, "&gt;");
			break;
		case '"':
			mail_buf_append_str(out, "&quot;");
			break;
		default:
			mail_buf_append(out, p + i, 1);
		}
	}
}

/* The HTML alternative of a plain text, wrapped the way each client does
 * it (Outlook's is famously bloated, Gmail's minimal). */
static void
mk_html_from_text(struct mail_buf *out, const struct mail_buf *t,
    unsigned mailer)
{
	size_t i = 0, e, s;
	unsigned depth = 0, d;

	if (mailer == MK_OUTLOOK)
		mail_buf_append_str(out, "<html xmlns:v=\"urn:schemas-microsoft-com:vml\" xmlns:o=\"urn:schemas-microsoft-com:office:office\" xmlns:w=\"urn:schemas-microsoft-com:office:word\" xmlns:m=\"http://schemas.microsoft.com/office/2004/12/omml\" xmlns=\"http://www.w3.org/TR/REC-html40\">\n"
		    "<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\n<meta name=\"Generator\" content=\"Microsoft Word 15 (filtered medium)\">\n"
		    "<style><!--\n/* Font Definitions */\n@font-face\n\t{font-family:\"Cambria Math\";\n\tpanose-1:2 4 5 3 5 4 6 3 2 4;}\n@font-face\n\t{font-family:Calibri;\n\tpanose-1:2 15 5 2 2 2 4 3 2 4;}\n"
		    "/* Style Definitions */\np.MsoNormal, li.MsoNormal, div.MsoNormal\n\t{margin:0cm;\n\tfont-size:11.0pt;\n\tfont-family:\"Calibri\",sans-serif;\n\tmso-fareast-language:EN-US;}\n"
		    "a:link, span.MsoHyperlink\n\t{mso-style-priority:99;\n\tcolor:#0563C1;\n\ttext-decoration:underline;}\nspan.E-MailFormatvorlage17\n\t{mso-style-type:personal-compose;\n\tfont-family:\"Calibri\",sans-serif;\n\tcolor:windowtext;}\n"
		    ".MsoChpDefault\n\t{mso-style-type:export-only;\n\tfont-family:\"Calibri\",sans-serif;\n\tmso-fareast-language:EN-US;}\n@page WordSection1\n\t{size:612.0pt 792.0pt;\n\tmargin:70.85pt 70.85pt 2.0cm 70.85pt;}\n"
		    "div.WordSection1\n\t{page:WordSection1;}\n--></style>\n</head>\n<body lang=\"DE\" link=\"#0563C1\" vlink=\"#954F72\" style=\"word-wrap:break-word\">\n<div class=\"WordSection1\">\n");
	else if (mailer == MK_GMAIL)
		mail_buf_append_str(out, "<div dir=\"ltr\">");
	else
		mail_buf_append_str(out, "<html>\n  <head>\n    <meta http-equiv=\"content-type\" content=\"text/html; charset=UTF-8\">\n  </head>\n  <body>\n");
	while (i < t->len) {
		for (e = i; e < t->len && t->data[e] != '\n'; e++)
			;
		for (s = i, d = 0; s < e && t->data[s] == '>'; d++) {
			s++;
			if (s < e && t->data[s] == ' ')
				s++;
		}
		for (; depth < d; depth++)
			mail_buf_append_str(out, "<blockquote type=\"cite\">\n");
		for (; depth > d; depth--)
			mail_buf_append_str(out, "</blockquote>\n");
		if (mailer == MK_OUTLOOK)
			mail_buf_append_str(out, "<p class=\"MsoNormal\"><span lang=\"EN-US\">");
		mk_html_escape(out, t->data + s, e - s);
		mail_buf_append_str(out, mailer == MK_OUTLOOK ?
		    "<o:p></o:p></span></p>\n" : "<br>\n");
		i = e + 1;
	}
	for (; depth > 0; depth--)
		mail_buf_append_str(out, "</blockquote>\n");
	mail_buf_append_str(out, mailer == MK_OUTLOOK ? "</div>\n</body>\n</html>\n" :
	    mailer == MK_GMAIL ? "</div>\n" : "  </body>\n</html>\n");
}

/* Newsletters and spam: table layout, inline CSS and long tracking links
 * make them large and poorly compressible, like the real thing. */
static void
mk_newsletter(struct mk_rng *r, const struct mk_person *from, const char *cid,
    struct mail_buf *plain, struct mail_buf *html)
{
	unsigned cards = 2 + (unsigned)mk_logrange(r, 1, 40);
	char tok[96], s[256];
	size_t col;

	mail_buf_printf(html, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>\n<style>body{margin:0;padding:0;background:#f4f4f4}table{border-collapse:collapse}img{border:0;display:block}.btn{background:#0a66c2;color:#ffffff;border-radius:4px;padding:10px 18px;text-decoration:none}@media only screen and (max-width:600px){.inner{width:100%% !important}}</style></head>\n<body><table role=\"presentation\" width=\"100%%\" bgcolor=\"#f4f4f4\"><tr><td align=\"center\"><table class=\"inner\" role=\"presentation\" width=\"600\" bgcolor=\"#ffffff\">\n",
	    from->name);
	if (cid != NULL)
		mail_buf_printf(html, "<tr><td style=\"padding:24px\"><img src=\"cid:%s\" width=\"180\" alt=\"%s\"></td></tr>\n",
		    cid, from->name);
	mail_buf_printf(plain, "%s\n\n", from->name);
	while (cards-- > 0) {
		mk_alnum(r, tok, 80, false);
		mail_buf_printf(html, "<tr><td style=\"padding:16px 24px;font-family:Helvetica,Arial,sans-serif;font-size:15px;line-height:22px;color:#333333\"><h2 style=\"margin:0 0 8px 0;font-size:20px;color:#111111\">%s</h2>\n<p style=\"margin:0 0 12px 0\">",
		    MK_PICK(r, mk_topics));
		mail_buf_printf(plain, "== %s ==\n", mk_topics[mk_below(r,
		    N_ELEMENTS(mk_topics))]);
		col = 0;
		for (unsigned k = 1 + mk_below(r, 3); k > 0; k--) {
			mk_sentence(r, MK_EN, s, sizeof(s));
			mk_html_escape(html, (const uint8_t *)s, strlen(s));
			mail_buf_append(html, " ", 1);
			mk_words(plain, &col, s);
		}
		mail_buf_printf(html, "</p>\n<a class=\"btn\" href=\"https://click.%s/ls/click?upn=%s\" style=\"color:#ffffff\">Read more</a></td></tr>\n",
		    from->domain, tok);
		mail_buf_printf(plain, "\nRead more: https://click.%s/ls/click?upn=%s\n\n",
		    from->domain, tok);
	}
	mk_alnum(r, tok, 48, false);
	mail_buf_printf(html, "<tr><td style=\"padding:24px;font-size:12px;color:#888888\">You receive this email because you signed up at %s. <a href=\"https://%s/unsubscribe?u=%s\">Unsubscribe</a></td></tr>\n</table></td></tr></table></body></html>\n",
	    from->domain, from->domain, tok);
	mail_buf_printf(plain, "Unsubscribe: https://%s/unsubscribe?u=%s\n",
	    from->domain, tok);
}

/* ---- MIME ---- */

static void
mk_boundary(struct mk_rng *r, unsigned mailer, char *b, size_t sz)
{
	char a[40];

	mk_alnum(r, a, 24, false);
	switch (mailer) {
	case MK_GMAIL:
		snprintf(b, sz, "000000000000%012" PRIx64, mk_next(r) >> 16);
		break;
	case MK_OUTLOOK:
		snprintf(b, sz, "_000_%s_", a);
		break;
	case MK_APPLE:
		snprintf(b, sz, "Apple-Mail=_%08" PRIX64 "-%s", mk_next(r) >> 32,
		    a + 8);
		break;
	case MK_TBIRD:
		snprintf(b, sz, "------------%s", a);
		break;
	default:
		snprintf(b, sz, "=_%s", a);
	}
}

/* One text part: Content-Type, then the transfer encoding chosen as
 * clients do: ASCII mostly 7bit, 8-bit text as 8bit, QP or base64 (Outlook),
 * Latin-1 text sometimes converted to ISO-8859-1. */
static void
mk_emit_text(struct mail_buf *out, const struct mail_buf *t, bool html,
    struct mk_rng *r)
{
	bool ascii = mk_is_ascii(t->data, t->len);
	unsigned e = mk_pct(r);
	struct mail_buf l1 = MAIL_BUF_INIT;

	if (!html && !ascii && e >= 75 && e < 90 &&
	    mk_is_latin1(t->data, t->len)) {
		mk_to_latin1(&l1, t->data, t->len);
		mail_buf_append_str(out, "Content-Type: text/plain; charset=ISO-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n");
		mk_qp(out, l1.data, l1.len);
		mail_buf_free(&l1);
		return;
	}
	mail_buf_printf(out, "Content-Type: text/%s; charset=%s\n",
	    html ? "html" : "plain",
	    ascii && !html && e < 50 ? "us-ascii" : "UTF-8");
	if (ascii && e < (html ? 15U : 85U)) {
		mail_buf_append_str(out, "Content-Transfer-Encoding: 7bit\n\n");
		mail_buf_append(out, t->data, t->len);
	} else if (!ascii && !html && e < 50) {
		mail_buf_append_str(out, "Content-Transfer-Encoding: 8bit\n\n");
		mail_buf_append(out, t->data, t->len);
	} else if (e < 90 || ascii) {
		mail_buf_append_str(out, "Content-Transfer-Encoding: quoted-printable\n\n");
		mk_qp(out, t->data, t->len);
	} else {
		mail_buf_append_str(out, "Content-Transfer-Encoding: base64\n\n");
		mk_base64(out, t->data, t->len);
	}
}

/* Random bytes behind a real header. n is the decoded size. */
static void
mk_blob(struct mk_rng *r, unsigned type, size_t n, struct mail_buf *raw)
{
	const struct mk_atype *t = &mk_atypes[type];
	uint64_t v;
	size_t i;

	mail_buf_reset(raw);
	mail_buf_reserve(raw, n + 8);
	mail_buf_append(raw, t->magic, t->magic_len < n ? t->magic_len : n);
	for (i = raw->len; i + 8 <= n; i += 8) {
		v = mk_next(r);
		memcpy(raw->data + i, &v, 8);
	}
	for (; i < n; i++)
		raw->data[i] = (uint8_t)mk_next(r);
	raw->len = n;
	if (type == 0 && n > 64)
		memcpy(raw->data + n - 6, "%%EOF\n", 6);
}

/* Attachment kind, name and size: sizes mostly tens of KB with a tail to
 * 2 MB, which yields a mean around 25 KB over all messages. */
static void
mk_att_pick(struct mk_rng *r, unsigned *type_r, char *name, size_t sz,
    size_t *size_r)
{
	unsigned w = mk_pct(r), acc = 0, t = 0;
	char base[64];

	while (w >= (acc += mk_atypes[t].weight))
		t++;
	mk_fill(base, sizeof(base), mk_atypes[t].names[mk_below(r, 4)], r);
	snprintf(name, sz, "%s.%s", base, mk_atypes[t].ext);
	*type_r = t;
	w = mk_pct(r);
	*size_r = w < 65 ? mk_logrange(r, 10240, 102400) : w < 93 ?
	    mk_logrange(r, 102400, 524288) : mk_logrange(r, 524288, 2097152);
}

static void
mk_emit_att(struct mail_buf *out, unsigned type, const char *name,
    size_t size, const struct mail_buf *b64, bool with_size)
{
	const char *mime = mk_atypes[type].mime;

	if (mk_is_ascii(name, strlen(name))) {
		mail_buf_printf(out, "Content-Type: %s; name=\"%s\"\nContent-Disposition: attachment; filename=\"%s\"",
		    mime, name, name);
	} else {
		/* RFC 2231 for the filename; the encoded-word name= is not
		 * standard but what most clients send alongside. */
		mail_buf_printf(out, "Content-Type: %s;\n\tname=\"", mime);
		mk_ew(out, name, MK_EW_B);
		mail_buf_append_str(out, "\"\nContent-Disposition: attachment;\n\tfilename*=UTF-8''");
		for (const uint8_t *p = (const uint8_t *)name; *p != '\0'; p++) {
			if (*p >= 0x80 || *p == ' ' || *p == '%')
				mail_buf_printf(out, "%%%02X", *p);
			else
				mail_buf_append(out, p, 1);
		}
	}
	if (with_size)
		mail_buf_printf(out, "; size=%zu", size);
	mail_buf_append_str(out, "\nContent-Transfer-Encoding: base64\n\n");
	mail_buf_append(out, b64->data, b64->len);
}

/* Shared attachments depend on the seed only, so the same PDF shows up
 * across messages and users: something for single-instance storage. */
static const struct mk_pooled *
mk_pool_get(struct mk_ctx *c, unsigned k)
{
	struct mk_pooled *p = &c->pool[k];
	struct mail_buf raw = MAIL_BUF_INIT;
	struct mk_rng r;

	if (!p->ready) {
		mk_rng_init(&r, c->seed, MK_ST_POOL, k);
		mk_att_pick(&r, &p->type, p->name, sizeof(p->name), &p->size);
		mk_blob(&r, p->type, p->size, &raw);
		mk_base64(&p->b64, raw.data, raw.len);
		mail_buf_free(&raw);
		p->ready = true;
	}
	return p;
}

static void mk_message(struct mk_ctx *c, uint64_t idx, bool embed,
    struct mail_buf *out, struct mk_skel *skel_r);

/*
 * The body entity (Content-Type onwards) of message s:
 *   plain | alternative(plain, html) | related(html, logo) for newsletters,
 *   wrapped in mixed(..., attachments, [message/rfc822]) when attaching.
 */
static void
mk_body(struct mk_ctx *c, const struct mk_skel *chain, size_t n,
    bool embed, struct mail_buf *out)
{
	const struct mk_skel *s = &chain[0];
	enum mk_kind kind = mk_catalog[s->slot].kind;
	struct mail_buf plain = MAIL_BUF_INIT, html = MAIL_BUF_INIT;
	struct mail_buf b64 = MAIL_BUF_INIT, raw = MAIL_BUF_INIT;
	struct mk_person from;
	struct mk_rng r;
	char bmix[80], balt[80], brel[80], cid[80], name[64];
	bool alt, rel = false, fwd_msg;
	unsigned natt = s->natt, type;
	size_t size;

	mk_rng_init(&r, c->useed, MK_ST_BODY, s->idx);
	mk_person(c, s->from, &from);
	mk_boundary(&r, from.mailer, bmix, sizeof(bmix));
	mk_boundary(&r, from.mailer, balt, sizeof(balt));
	mk_boundary(&r, from.mailer, brel, sizeof(brel));
	snprintf(cid, sizeof(cid), "logo.%08x@%s", (unsigned)mk_next(&r),
	    from.domain);
	fwd_msg = embed && s->idx > 0 && kind != MK_LISTS && kind != MK_JUNK &&
	    !s->newsletter && mk_pct(&r) < 2;
	if (s->newsletter || kind == MK_JUNK) {
		rel = s->newsletter && mk_pct(&r) < 40;
		mk_newsletter(&r, &from, rel ? cid : NULL, &plain, &html);
		alt = kind != MK_JUNK || mk_pct(&r) < 50;
	} else {
		mk_plain(c, chain, n, 0, 0, &plain);
		if (s->list != 0 && from.mailer != MK_MUTT)
			mail_buf_printf(&plain, "\n-- \nTo UNSUBSCRIBE, email to %s\n",
			    mk_lists[s->list - 1].addr);
		alt = mk_pct(&r) < mk_mailers[from.mailer].html_pct &&
		    s->list == 0;
		if (alt)
			mk_html_from_text(&html, &plain, from.mailer);
	}
	if (natt > 0 || fwd_msg) {
		mail_buf_printf(out, "Content-Type: multipart/mixed;\n\tboundary=\"%s\"\n\nThis is a multi-part message in MIME format.\n--%s\n",
		    bmix, bmix);
	}
	if (alt) {
		mail_buf_printf(out, "Content-Type: multipart/alternative;\n\tboundary=\"%s\"\n\n--%s\n",
		    balt, balt);
		if (plain.len > 0)
			mk_emit_text(out, &plain, false, &r);
		mail_buf_printf(out, "--%s\n", balt);
		if (rel)
			mail_buf_printf(out, "Content-Type: multipart/related;\n\tboundary=\"%s\"\n\n--%s\n",
			    brel, brel);
		mk_emit_text(out, &html, true, &r);
		if (rel) {
			mk_blob(&r, 2, mk_logrange(&r, 3000, 40000), &raw);
			mail_buf_printf(out, "--%s\nContent-Type: image/png; name=\"logo.png\"\nContent-Disposition: inline; filename=\"logo.png\"\nContent-ID: <%s>\nContent-Transfer-Encoding: base64\n\n",
			    brel, cid);
			mk_base64(out, raw.data, raw.len);
			mail_buf_printf(out, "--%s--\n", brel);
		}
		mail_buf_printf(out, "--%s--\n", balt);
	} else if (kind == MK_JUNK) {
		mk_emit_text(out, &html, true, &r);
	} else {
		mk_emit_text(out, &plain, false, &r);
	}
	for (unsigned k = 0; k < natt; k++) {
		mail_buf_printf(out, "--%s\n", bmix);
		if ((k == 0 && s->fwd) || mk_pct(&r) < 30) {
			/* Low pool indexes are the popular files. */
			const struct mk_pooled *p = mk_pool_get(c,
			    mk_below(&r, 1 + mk_below(&r, MK_POOL)));

			mk_emit_att(out, p->type, p->name, p->size, &p->b64,
			    false);
			continue;
		}
		mk_att_pick(&r, &type, name, sizeof(name), &size);
		mk_blob(&r, type, size, &raw);
		mail_buf_reset(&b64);
		mk_base64(&b64, raw.data, raw.len);
		mk_emit_att(out, type, name, size, &b64, mk_pct(&r) < 30);
	}
	if (fwd_msg) {
		/* Forward as attachment: a whole earlier message, built
		 * without further embedding so recursion stops here. */
		struct mail_buf inner = MAIL_BUF_INIT;

		mk_message(c, s->idx - 1 - mk_below(&r, s->idx < 64 ? s->idx : 64),
		    false, &inner, NULL);
		mail_buf_printf(out, "--%s\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename=\"forwarded.eml\"\n%s\n",
		    bmix, mk_is_ascii(inner.data, inner.len) ? "" :
		    "Content-Transfer-Encoding: 8bit\n");
		mail_buf_append(out, inner.data, inner.len);
		mail_buf_free(&inner);
	}
	if (natt > 0 || fwd_msg)
		mail_buf_printf(out, "--%s--\n", bmix);
	mail_buf_free(&plain);
	mail_buf_free(&html);
	mail_buf_free(&b64);
	mail_buf_free(&raw);
}

/* "Name <addr>" with the display name encoded or quoted as needed. */
static void
mk_hdr_addr(struct mail_buf *out, const struct mk_person *p, unsigned mode)
{
	if (p->name[0] == '\0')
		mail_buf_append_str(out, p->addr);
	else if (!mk_is_ascii(p->name, strlen(p->name))) {
		mk_ew(out, p->name, mode);
		mail_buf_printf(out, " <%s>", p->addr);
	} else if (strpbrk(p->name, ",.'") != NULL)
		mail_buf_printf(out, "\"%s\" <%s>", p->name, p->addr);
	else
		mail_buf_printf(out, "%s <%s>", p->name, p->addr);
}

static void
mk_received(struct mail_buf *out, struct mk_rng *r, const char *from_host,
    const char *by, const char *rcpt, int64_t t, int tz)
{
	char date[64], qid[16];
	unsigned ip[4];

	mk_date(date, sizeof(date), t, tz);
	mk_alnum(r, qid, 12, false);
	ip[0] = 11 + mk_below(r, 200);
	ip[1] = mk_below(r, 256);
	ip[2] = mk_below(r, 256);
	ip[3] = 1 + mk_below(r, 254);
	/* A client submitting from a LAN has no reverse DNS: "unknown". */
	mail_buf_printf(out, "Received: from %s (%s [%u.%u.%u.%u])\n\tby %s (Postfix) with %s id %s",
	    from_host, from_host[0] == '[' ? "unknown" : from_host, ip[0], ip[1],
	    ip[2], ip[3], by, from_host[0] == '[' ? "ESMTPSA" : "ESMTPS", qid);
	if (rcpt != NULL)
		mail_buf_printf(out, "\n\tfor <%s>", rcpt);
	mail_buf_printf(out, ";\n\t%s\n", date);
}

/*
 * Build message idx into out (appended). skel_r, when not NULL, receives
 * the skeleton (folder slot, dates) for placing the file.
 */
static void
mk_message(struct mk_ctx *c, uint64_t idx, bool embed, struct mail_buf *out,
    struct mk_skel *skel_r)
{
	struct mk_skel *chain, *s;
	struct mk_person from, to, self, cc;
	struct mk_rng r;
	enum mk_kind kind;
	char date[64], host[128], b[400];
	unsigned mode, i;
	size_t n, k;

	n = mk_chain(c, idx, &chain);
	s = &chain[0];
	kind = mk_catalog[s->slot].kind;
	mk_rng_init(&r, c->useed, MK_ST_ATT, idx);	/* header noise */
	mk_person(c, s->from, &from);
	mk_person(c, s->to, &to);
	mk_person(c, MK_SELF, &self);
	mode = from.mailer == MK_GMAIL ? MK_EW_B : mk_pct(&r) < 50 ? MK_EW_Q :
	    MK_EW_B;
	if (kind != MK_SENT && kind != MK_DRAFTS) {
		/* Delivered mail: the envelope and the path it took. */
		snprintf(host, sizeof(host), "%s.%s", from.mailer == MK_GMAIL ?
		    "mail-wr1-f54" : "smtp", from.domain);
		mail_buf_printf(out, "Return-Path: <%s>\nDelivered-To: %s\n",
		    s->list != 0 ? mk_lists[s->list - 1].addr : from.addr,
		    self.addr);
		mk_received(out, &r, s->list != 0 ? mk_lists[s->list - 1].host :
		    host, "mx1.example.org", self.addr, s->date + s->delay, 60);
		mk_received(out, &r, s->list != 0 ? host : "[192.168.1.23]",
		    s->list != 0 ? mk_lists[s->list - 1].host : host, NULL,
		    s->date + 1, from.tz);
		if (mk_pct(&r) < 60 && kind != MK_JUNK) {
			mk_alnum(&r, b, 44, false);
			mail_buf_printf(out, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s;\n\ts=%s; t=%" PRId64 ";\n\th=from:to:subject:date:message-id:mime-version:content-type;\n\tbh=%s=;\n\tb=",
			    from.domain, mk_pct(&r) < 50 ? "20230601" : "selector1",
			    s->date, b);
			for (i = 0; i < 5; i++) {
				mk_alnum(&r, b, 68, false);
				mail_buf_printf(out, "%s%s", i > 0 ? "\n\t  " : "",
				    b);
			}
			mail_buf_append_str(out, "==\n");
		}
	}
	mk_date(date, sizeof(date), s->date, from.tz);
	mail_buf_printf(out, "Date: %s\nFrom: ", date);
	mk_hdr_addr(out, &from, mode);
	mail_buf_append_str(out, kind == MK_JUNK && mk_pct(&r) < 50 ?
	    "\nTo: undisclosed-recipients:;" : "\nTo: ");
	if (out->data[out->len - 1] == ' ')
		mk_hdr_addr(out, &to, mode);
	if (s->to == MK_SELF && s->list == 0 && !s->newsletter &&
	    kind != MK_JUNK && mk_pct(&r) < 25) {
		/* Extra recipients: a team thread. */
		for (i = 1 + mk_below(&r, 3); i > 0; i--) {
			mk_person(c, mk_pick_person(mk_next(&r)), &cc);
			mail_buf_append_str(out, mk_col(out) > 40 ? ",\n\t" : ", ");
			mk_hdr_addr(out, &cc, mode);
		}
	}
	if (s->list == 0 && !s->newsletter && kind != MK_JUNK &&
	    mk_pct(&r) < 20) {
		mk_person(c, mk_pick_person(mk_next(&r)), &cc);
		mail_buf_append_str(out, "\nCc: ");
		mk_hdr_addr(out, &cc, mode);
	}
	mail_buf_append_str(out, "\nSubject: ");
	if (mk_is_ascii(s->subject, strlen(s->subject)))
		mail_buf_append_str(out, s->subject);
	else {
		/* Encode after a plain "Re: ", Latin-1 where it fits. */
		const char *sub = s->subject;

		while (strncmp(sub, "Re: ", 4) == 0 || strncmp(sub, "Fwd: ", 5) == 0) {
			size_t l = sub[0] == 'R' ? 4 : 5;

			mail_buf_append(out, sub, l);
			sub += l;
		}
		mk_ew(out, sub, mk_is_latin1((const uint8_t *)sub, strlen(sub)) &&
		    mk_pct(&r) < 40 ? MK_EW_Q_LATIN1 : mode);
	}
	mail_buf_printf(out, "\nMessage-ID: %s\n", s->msgid);
	if (s->reply) {
		/* RFC 5322 3.6.4: keep the root, then the most recent. */
		mail_buf_printf(out, "In-Reply-To: %s\nReferences:", chain[1].msgid);
		for (k = n - 1; k >= 1; k--) {
			if (k != n - 1 && k > 10)
				continue;
			mail_buf_printf(out, "%s%s", mk_col(out) +
			    strlen(chain[k].msgid) > 76 ? "\n " : " ",
			    chain[k].msgid);
		}
		mail_buf_append(out, "\n", 1);
	}
	if (s->list != 0 && kind != MK_SENT && kind != MK_DRAFTS) {
		const struct mk_list *l = &mk_lists[s->list - 1];
		const char *at = strchr(l->addr, '@');

		mail_buf_printf(out, "List-Id: <%.*s.%s>\nList-Post: <mailto:%s>\nList-Unsubscribe: <mailto:%.*s-request@%s?subject=unsubscribe>\nList-Archive: <https://%s/%s/>\nPrecedence: list\n",
		    (int)(at - l->addr), l->addr, at + 1, l->addr,
		    (int)(at - l->addr), l->addr, at + 1, at + 1, l->name);
	}
	if (s->newsletter)
		mail_buf_printf(out, "List-Unsubscribe: <https://%s/unsubscribe>\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\nPrecedence: bulk\n",
		    from.domain);
	if (mk_mailers[from.mailer].hdr != NULL && s->from < MK_BRAND)
		mail_buf_printf(out, "%s\n", mk_mailers[from.mailer].hdr);
	if (from.mailer == MK_OUTLOOK && s->from < MK_BRAND) {
		mk_alnum(&r, b, 32, false);
		mail_buf_printf(out, "Thread-Index: AQH%s\nContent-Language: %s\n",
		    b, from.lang == MK_DE ? "de-DE" : "en-US");
	}
	mail_buf_append_str(out, "MIME-Version: 1.0\n");
	mk_body(c, chain, n, embed, out);
	if (skel_r != NULL)
		*skel_r = *s;
	free(chain);
}

/* ---- writing the tree ---- */

static const char *const mk_keywords[] = {
	"$Forwarded", "$Label1", "$Label2", "$Label3", "$Label4", "$Label5",
	"Important", "$NotJunk", "$MDNSent", "$Todo",
};

struct mk_file {
	char	*base;			/* file name without ":2,..." */
};

struct mk_folder {
	char	*dir;
	enum mk_kind kind;
	const char *kw[26];		/* letter 'a' + i, first use first */
	unsigned nkw;
	struct mk_file *files;
	size_t	 nfiles, cap;
};

struct mk_stats {
	uint64_t messages, bytes, folders;
};

static void
mk_mkdir(const char *path, bool must_be_new)
{
	if (mkdir(path, 0700) == -1 && (must_be_new || errno != EEXIST))
		mk_die("mkdir '%s': %s", path, strerror(errno));
}

static void
mk_write(const char *path, const void *p, size_t n, int64_t mtime)
{
	struct timespec ts[2];
	const uint8_t *q = p;
	ssize_t w;
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1)
		mk_die("create '%s': %s", path, strerror(errno));
	for (; n > 0; n -= (size_t)w, q += w) {
		if ((w = write(fd, q, n)) <= 0)
			mk_die("write '%s': %s", path, strerror(errno));
	}
	ts[0].tv_sec = ts[1].tv_sec = (time_t)mtime;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (mtime != 0 && futimens(fd, ts) == -1)
		mk_die("futimens '%s': %s", path, strerror(errno));
	if (close(fd) == -1)
		mk_die("close '%s': %s", path, strerror(errno));
}

static char
mk_kw_letter(struct mk_folder *f, const char *kw)
{
	unsigned i;

	for (i = 0; i < f->nkw; i++)
		if (strcmp(f->kw[i], kw) == 0)
			return (char)('a' + i);
	f->kw[f->nkw++] = kw;
	return (char)('a' + i);
}

/*
 * Flags as a user leaves them: mostly seen, a few flagged, answered or
 * deleted; drafts only in Drafts. Returns true when the message belongs in
 * new/ (recent, unseen and untouched).
 */
static bool
mk_flags(struct mk_rng *r, struct mk_folder *f, const struct mk_skel *s,
    char *flags)
{
	unsigned seen_pct = f->kind == MK_INBOX ? 76 : f->kind == MK_LISTS ? 66 :
	    f->kind == MK_JUNK ? 40 : f->kind == MK_TRASH ? 95 :
	    f->kind == MK_PROJECT ? 85 : 99;
	bool seen = f->kind == MK_SENT || f->kind == MK_DRAFTS ||
	    mk_pct(r) < seen_pct;
	bool flagged = mk_pct(r) < 5;
	bool answered = f->kind != MK_SENT && f->kind != MK_DRAFTS &&
	    f->kind != MK_JUNK && mk_pct(r) < 12;
	bool deleted = mk_below(r, 1000) < (f->kind == MK_TRASH ? 150U : 6U);
	char kw[3] = { 0 }, t;
	size_t n = 0;

	if (f->kind == MK_JUNK && mk_pct(r) < 85)
		kw[n++] = mk_kw_letter(f, "$Junk");
	if (mk_pct(r) < 8) {
		kw[n++] = mk_kw_letter(f, MK_PICK(r, mk_keywords));
		if (mk_pct(r) < 25) {
			const char *k2 = MK_PICK(r, mk_keywords);
			char l = mk_kw_letter(f, k2);

			if (strchr(kw, l) == NULL)
				kw[n++] = l;
		}
	}
	if (n == 2 && kw[0] > kw[1]) {
		t = kw[0];
		kw[0] = kw[1];
		kw[1] = t;
	}
	snprintf(flags, 16, "%s%s%s%s%s%s", f->kind == MK_DRAFTS ? "D" : "",
	    flagged ? "F" : "", answered ? "R" : "", seen ? "S" : "",
	    deleted ? "T" : "", kw);
	return flags[0] == '\0' && (f->kind == MK_INBOX || f->kind == MK_LISTS) &&
	    s->date >= MK_END - 45 * 86400;
}

static int
mk_file_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mk_file *)a)->base,
	    ((const struct mk_file *)b)->base);
}

/* dovecot-uidlist version 3: header, then "<uid> :<base name>" in the
 * order Dovecot itself would assign (by name, i.e. by delivery time), with
 * the occasional gap left by an expunge. */
static void
mk_write_uidlist(struct mk_ctx *c, struct mk_folder *f, unsigned fi)
{
	struct mail_buf b = MAIL_BUF_INIT, lines = MAIL_BUF_INIT;
	struct mk_rng r;
	uint32_t uid = 0, next;
	uint64_t g1;
	char *path;

	mk_rng_init(&r, c->useed, MK_ST_UIDL, fi);
	qsort(f->files, f->nfiles, sizeof(*f->files), mk_file_cmp);
	for (size_t i = 0; i < f->nfiles; i++) {
		uid += 1 + (mk_pct(&r) < 3 ? mk_below(&r, 5) : 0);
		mail_buf_printf(&lines, "%u :%s\n", uid, f->files[i].base);
	}
	next = uid + 1 + mk_below(&r, 3);
	g1 = mk_next(&r);
	mail_buf_printf(&b, "3 V%u N%u G%016" PRIx64 "%016" PRIx64 "\n",
	    (unsigned)(MK_END - MK_SPAN - 86400) + fi, next, g1, mk_next(&r));
	mail_buf_append(&b, lines.data, lines.len);
	path = mail_xasprintf("%s/dovecot-uidlist", f->dir);
	mk_write(path, b.data, b.len, 0);
	free(path);
	mail_buf_free(&b);
	mail_buf_free(&lines);
}

static void
mk_tree(struct mk_ctx *c, const char *outdir, uint64_t count, unsigned users,
    unsigned nfolders, bool uidlist, struct mk_stats *st)
{
	struct mk_folder *fs = mail_xcalloc(nfolders, sizeof(*fs));
	struct mail_buf msg = MAIL_BUF_INIT, nb = MAIL_BUF_INIT;
	unsigned ncat = nfolders < MK_NCAT ? nfolders : (unsigned)MK_NCAT;
	unsigned extras = nfolders - ncat, fi;
	struct mk_skel s;
	struct mk_rng r;
	char flags[16], *udir, *path, name[192];
	static const char *const sub[] = { "cur", "new", "tmp" };

	mk_mkdir(outdir, false);
	for (unsigned u = 1; u <= users; u++) {
		c->user = u;
		c->useed = mk_mix(c->seed + u * 0x632be59bd9b4e019ULL);
		udir = mail_xasprintf("%s/user%u", outdir, u);
		mk_mkdir(udir, true);
		for (fi = 0; fi < nfolders; fi++) {
			struct mk_folder *f = &fs[fi];

			mail_buf_reset(&nb);
			if (fi < ncat)
				mk_mutf7(&nb, mk_catalog[fi].name);
			else
				mail_buf_printf(&nb, "Archive.Topic-%03u", fi - ncat + 1);
			f->kind = fi < ncat ? mk_catalog[fi].kind : MK_ARCHIVE;
			f->dir = fi == 0 ? mail_xstrdup(udir) :
			    mail_xasprintf("%s/.%s", udir, (const char *)nb.data);
			if (fi > 0)
				mk_mkdir(f->dir, true);
			for (unsigned k = 0; k < 3; k++) {
				path = mail_xasprintf("%s/%s", f->dir, sub[k]);
				mk_mkdir(path, true);
				free(path);
			}
			if (fi > 0) {
				/* Maildir++ marks subfolders with this file. */
				path = mail_xasprintf("%s/maildirfolder", f->dir);
				mk_write(path, "", 0, 0);
				free(path);
			}
			st->folders++;
		}
		for (uint64_t i = 0; i < count; i++) {
			unsigned usec, pid;
			bool isnew;
			int64_t t;

			mail_buf_reset(&msg);
			mk_message(c, i, true, &msg, &s);
			mk_rng_init(&r, c->useed, MK_ST_FLAGS, i);
			fi = s.slot < ncat ? s.slot : 0;
			if (extras > 0 && mk_catalog[s.slot].kind == MK_ARCHIVE &&
			    mk_pct(&r) < 60)
				fi = ncat + mk_below(&r, extras);
			isnew = mk_flags(&r, &fs[fi], &s, flags);
			t = fs[fi].kind == MK_SENT || fs[fi].kind == MK_DRAFTS ?
			    s.date : s.date + s.delay;
			usec = mk_below(&r, 1000000);
			pid = 1000 + mk_below(&r, 4000000);
			snprintf(name, sizeof(name), "%" PRId64 ".M%uP%u.%s,S=%zu",
			    t, usec, pid, fs[fi].kind == MK_SENT ||
			    fs[fi].kind == MK_DRAFTS ? "imap1" : mk_pct(&r) < 70 ?
			    "mx1" : "mx2", msg.len);
			path = mail_xasprintf("%s/%s/%s%s%s", fs[fi].dir,
			    isnew ? "new" : "cur", name, isnew ? "" : ":2,",
			    isnew ? "" : flags);
			mk_write(path, msg.data, msg.len, t);
			free(path);
			if (uidlist) {
				fs[fi].files = mail_xgrow(fs[fi].files, &fs[fi].cap,
				    fs[fi].nfiles + 1, sizeof(*fs[fi].files));
				fs[fi].files[fs[fi].nfiles++].base = mail_xstrdup(name);
			}
			st->messages++;
			st->bytes += msg.len;
		}
		for (fi = 0; fi < nfolders; fi++) {
			struct mk_folder *f = &fs[fi];

			if (f->nkw > 0) {
				mail_buf_reset(&nb);
				for (unsigned k = 0; k < f->nkw; k++)
					mail_buf_printf(&nb, "%u %s\n", k, f->kw[k]);
				path = mail_xasprintf("%s/dovecot-keywords", f->dir);
				mk_write(path, nb.data, nb.len, 0);
				free(path);
			}
			if (uidlist)
				mk_write_uidlist(c, f, fi);
			for (size_t k = 0; k < f->nfiles; k++)
				free(f->files[k].base);
			free(f->files);
			free(f->dir);
			memset(f, 0, sizeof(*f));
		}
		free(udir);
	}
	free(fs);
	mail_buf_free(&msg);
	mail_buf_free(&nb);
}

static uint64_t
mk_num(const char *s, const char *what, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

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
	    "Writes USERS Maildir++ trees OUTDIR/user1.. with COUNT messages each\n"
	    "(defaults: seed 1, 1000 messages, 1 user, %u folders), or message\n"
	    "INDEX (0-based) of user1 to stdout. Same seed, same bytes.\n",
	    (unsigned)MK_NCAT);
	exit(code);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },
		{ "users", required_argument, NULL, 'u' },
		{ "index", required_argument, NULL, 'i' },
		{ "folders", required_argument, NULL, 'f' },
		{ "uidlist", no_argument, NULL, 'L' },
		{ "single", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mk_ctx *c = mail_xcalloc(1, sizeof(*c));
	struct mk_stats st = { 0, 0, 0 };
	struct mail_buf msg = MAIL_BUF_INIT;
	uint64_t count = 1000, index = 0;
	unsigned users = 1, nfolders = MK_NCAT;
	bool single = false, uidlist = false, have_index = false;
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
			users = (unsigned)mk_num(optarg, "user count", 1, 100000);
			break;
		case 'i':
			index = mk_num(optarg, "index", 0, UINT64_MAX / 2);
			have_index = true;
			break;
		case 'f':
			nfolders = (unsigned)mk_num(optarg, "folder count", 1,
			    MK_MAX_FOLDERS);
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
	if (single) {
		if (!have_index || optind != argc)
			mk_usage(2);
		c->user = 1;
		c->useed = mk_mix(c->seed + 0x632be59bd9b4e019ULL);
		mk_message(c, index, true, &msg, NULL);
		if (fwrite(msg.data, 1, msg.len, stdout) != msg.len ||
		    fflush(stdout) != 0)
			mk_die("write to stdout: %s", strerror(errno));
	} else {
		if (optind + 1 != argc || have_index)
			mk_usage(2);
		mk_tree(c, argv[optind], count, users, nfolders, uidlist, &st);
		printf("users %u messages %" PRIu64 " bytes %" PRIu64 " folders %" PRIu64 "\n",
		    users, st.messages, st.bytes, st.folders);
	}
	for (unsigned k = 0; k < MK_POOL; k++)
		mail_buf_free(&c->pool[k].b64);
	free(c);
	mail_buf_free(&msg);
	return 0;
}
