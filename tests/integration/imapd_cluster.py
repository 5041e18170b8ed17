#!/usr/bin/env python3
"""imapd_cluster.py: IMAP on two replicating nodes (run by t1410).

Usage: imapd_cluster.py PORT_A PORT_B USER PASSWORD
A session on node B in IDLE must see a message APPENDed on node A, and
its flag change and expunge; a CONDSTORE/QRESYNC client that knew node
B's mailbox resyncs after changes made on node A.
"""
import sys
import time

from imapd_scenarios import Session, check, msg, append
import imapd_scenarios

N = 0


def ok(name):
    global N
    N += 1
    print("ok %d - %s" % (N, name), flush=True)


def main():
    pa, pb, user, pw = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], \
        sys.argv[4]

    class A:
        pass
    imapd_scenarios.ARGS = A
    A.user, A.password = user, pw

    a, b = Session(pa), Session(pb)
    # QRESYNC state of a client of node B, taken before the changes
    q = Session(pb)
    q.ok("ENABLE QRESYNC")
    lines = q.ok("SELECT INBOX")
    hms = [int(ln.split(b"HIGHESTMODSEQ ")[1].split(b"]")[0])
           for ln in lines if b"HIGHESTMODSEQ" in ln][0]
    val = [int(ln.split(b"UIDVALIDITY ")[1].split(b"]")[0])
           for ln in lines if b"UIDVALIDITY" in ln][0]
    q.close()

    b.ok("SELECT INBOX")
    b.send(b"i IDLE\r\n")
    check(b.line().startswith(b"+"), "IDLE")
    t0 = time.time()
    uid = append(a, "INBOX", msg(1))
    ln = b.line(10)
    dt = time.time() - t0
    check(ln.endswith(b"EXISTS"), "EXISTS on B: %r" % ln)
    ok("IDLE on node B sees an APPEND on node A (%.0f ms)" % (dt * 1000))

    a.ok("SELECT INBOX")
    a.ok("UID STORE %d +FLAGS (\\Flagged)" % uid)
    ln = b.line(10)
    check(b"FETCH" in ln and b"\\Flagged" in ln, "flag on B: %r" % ln)
    ok("a flag set on node A reaches node B's IDLE as FETCH FLAGS")

    uid2 = append(a, "INBOX", msg(2))
    check(b.line(10).endswith(b"EXISTS"), "second EXISTS")
    a.ok("UID STORE %d +FLAGS (\\Deleted)" % uid2)
    a.ok("EXPUNGE")
    lines = []
    while not any(b"EXPUNGE" in x for x in lines):
        lines.append(b.line(10))
    ok("an expunge on node A reaches node B's IDLE as EXPUNGE")
    b.send(b"DONE\r\n")
    b.until(b"i")

    q = Session(pb)
    q.ok("ENABLE QRESYNC")
    lines = q.ok("SELECT INBOX (QRESYNC (%d %d))" % (val, hms))
    vanished = [x for x in lines if x.startswith(b"* VANISHED (EARLIER)")]
    fetches = [x for x in lines if b"FETCH" in x]
    check(vanished and str(uid2).encode() in vanished[0],
          "VANISHED names the expunged UID: %r" % lines)
    check(any(b"UID %d " % uid in x and b"\\Flagged" in x and b"MODSEQ" in x
              for x in fetches), "FETCH of the changed message: %r" % lines)
    ok("QRESYNC on node B after changes on node A: VANISHED and FETCH")
    lines = q.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % hms)
    check(any(b"UID %d" % uid in x for x in lines), "CHANGEDSINCE")
    ok("CONDSTORE CHANGEDSINCE on node B lists node A's change")
    for s in (a, b, q):
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
