package mail

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/textproto"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

// buildMessage returns m as an RFC 5322 message from from, with CRLF line
// endings, and the bare recipient address for RCPT TO. The Date header is
// m's creation time, or now when m has none. A recipient or subject that
// could inject a header is a permanent error.
func buildMessage(from string, m *gatehouse.Mail, now func() time.Time) (msg []byte, rcpt string, err error) {
	fromAddr, err := parseAddress(from)
	if err != nil {
		return nil, "", errInvalid("from: %v", err)
	}
	to, err := parseAddress(m.To)
	if err != nil {
		return nil, "", errInvalid("to: %v", err)
	}
	if hasLineBreak(m.Subject) {
		return nil, "", errInvalid("the subject contains a line break")
	}
	date := m.CreatedAt
	if date.IsZero() {
		date = now()
	}

	var b bytes.Buffer
	header := func(name, value string) {
		b.WriteString(foldHeader(name + ": " + value))
		b.WriteString("\r\n")
	}
	header("From", fromAddr.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", date.Format(time.RFC1123Z))
	header("Message-ID", messageID(m.ID, fromAddr.Address))
	// Auto-Submitted (RFC 3834) keeps vacation responders from replying.
	header("Auto-Submitted", "auto-generated")
	header("MIME-Version", "1.0")

	if m.HTML == "" {
		header("Content-Type", "text/plain; charset=utf-8")
		header("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		writeQP(&b, m.Text)
		return b.Bytes(), to.Address, nil
	}

	mw := multipart.NewWriter(&b)
	header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	b.WriteString("\r\n")
	// Clients show the last alternative they understand: plain text first.
	for _, part := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, "", errInvalid("%v", err)
		}
		writeQP(w, part.body)
	}
	if err := mw.Close(); err != nil {
		return nil, "", errInvalid("%v", err)
	}
	b.WriteString("\r\n")
	return b.Bytes(), to.Address, nil
}

// writeQP writes s quoted-printable encoded, with CRLF line endings and a
// final line break.
func writeQP(w interface{ Write([]byte) (int, error) }, s string) {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	qp := quotedprintable.NewWriter(w)
	qp.Write([]byte(s)) // writes to a bytes.Buffer or a multipart part of one
	qp.Close()
}

// messageID returns a Message-ID at the sender's domain. It is derived from
// the outbox id when that is a plain token, so that a message delivered twice
// (the server accepted it but the outbox could not record it) carries the
// same Message-ID both times, which lets mailboxes drop the copy.
func messageID(id, fromAddr string) string {
	domain := "localhost"
	if i := strings.LastIndexByte(fromAddr, '@'); i >= 0 && i+1 < len(fromAddr) {
		domain = fromAddr[i+1:]
	}
	if id == "" || len(id) > 64 || strings.IndexFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}) >= 0 {
		id = rand.Text()
	}
	return fmt.Sprintf("<%s@%s>", id, domain)
}

// foldHeader folds a header line longer than 78 characters at spaces, as
// RFC 5322 section 2.2.3 recommends. It may fold right after "Name:",
// since an encoded word of 75 characters does not fit beside the name. A
// stretch with no space to fold at stays long (only a long address can make
// one).
func foldHeader(line string) string {
	const limit = 78
	var b strings.Builder
	// The first fold must come after "Name:"; on continuation lines, which
	// start with the space folded at, after that space.
	minCut := max(1, strings.Index(line, ": ")+1)
	for len(line) > limit {
		i := strings.LastIndexByte(line[:limit], ' ')
		if i < minCut {
			j := strings.IndexByte(line[max(limit, minCut):], ' ')
			if j < 0 {
				break
			}
			i = max(limit, minCut) + j
		}
		b.WriteString(line[:i])
		b.WriteString("\r\n")
		line = line[i:] // the space starts the continuation line
		minCut = 1
	}
	b.WriteString(line)
	return b.String()
}
