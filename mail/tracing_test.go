package mail

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gatehouse/gatehouse/tracing"
)

// TestOutboxTracesAttempts: each delivery attempt is a mail.send span
// with the kind, the attempt and its outcome, and nothing of the address,
// the subject, the body or the mail server's refusal (which quotes the
// address).
func TestOutboxTracesAttempts(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	t.Cleanup(tracing.Use(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))))
	srv := startServer(t, serverOptions{tls: TLSNone, rcpt: func(n int, to string) error {
		switch {
		case to == "nobody@example.org":
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user " + to}
		case n == 1:
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "mailbox of " + to + " busy"}
		}
		return nil
	}})
	clock := newFakeClock()
	store := newMemStore()
	o := NewOutbox(store, smtpTo(t, srv.Addr), mustLoad(t, ""), OutboxConfig{}, clock.Now, nil)
	if err := o.Enqueue(t.Context(), "Carol <carol@example.org>", KindReset, resetData()); err != nil {
		t.Fatal(err)
	}
	flush(t, o) // 451: retry
	clock.Advance(time.Hour)
	flush(t, o) // sent
	if err := o.Enqueue(t.Context(), "nobody@example.org", KindPasswordChanged, resetData()); err != nil {
		t.Fatal(err)
	}
	flush(t, o) // 550: given up

	type attempt struct {
		kind, attempt, outcome string
		failed                 bool
	}
	var got []attempt
	for _, s := range exp.GetSpans() {
		if s.Name != "mail.send" {
			continue
		}
		a := attempt{failed: s.Status.Code == codes.Error}
		for _, kv := range s.Attributes {
			switch kv.Key {
			case "gatehouse.mail.kind":
				a.kind = kv.Value.AsString()
			case "gatehouse.mail.attempt":
				a.attempt = kv.Value.String()
			case "gatehouse.mail.outcome":
				a.outcome = kv.Value.AsString()
			}
			for _, secret := range []string{"carol", "nobody", "TOPSECRETTOKEN", "Reset your", "example.org"} {
				if strings.Contains(kv.Value.String(), secret) {
					t.Errorf("span attribute %s = %q holds %q", kv.Key, kv.Value.String(), secret)
				}
			}
		}
		if strings.Contains(s.Status.Description, "example.org") {
			t.Errorf("span status %q holds the address", s.Status.Description)
		}
		got = append(got, a)
	}
	want := []attempt{
		{KindReset, "1", "retry", true},
		{KindReset, "2", "sent", false},
		{KindPasswordChanged, "1", "given_up", true},
	}
	if len(got) != len(want) {
		t.Fatalf("mail.send spans %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("attempt %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
