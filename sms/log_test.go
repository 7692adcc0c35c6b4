package sms

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestLogSender(t *testing.T) {
	var buf bytes.Buffer
	s := LogSender{Log: slog.New(slog.NewJSONHandler(&buf, nil))}
	if err := s.Send(t.Context(), testMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log output %q: %v", buf.String(), err)
	}
	want := map[string]any{
		"level": "INFO", "msg": "sms not sent: the log driver is for development",
		"to": "+**********678", "kind": KindTwoFactorCode, "body": testBody,
	}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("log record %s = %v, want %v", k, rec[k], v)
		}
	}
	if strings.Contains(buf.String(), testDigits) {
		t.Errorf("the log shows the full number: %s", buf.String())
	}
}

func TestLogSenderRefusesBadMessages(t *testing.T) {
	var buf bytes.Buffer
	s := LogSender{Log: slog.New(slog.NewJSONHandler(&buf, nil))}
	for _, m := range []Message{
		{To: testPhone + "\r\n", Body: testBody},
		{To: "015112345678", Body: testBody},
		{To: testPhone, Body: strings.Repeat("x", MaxBodyLength+1)},
	} {
		if err := s.Send(t.Context(), m); err == nil || !IsPermanent(err) {
			t.Errorf("Send(%q): %v, want a permanent error", m.To, err)
		}
	}
	if buf.Len() != 0 {
		t.Errorf("refused messages were logged: %s", buf.String())
	}
}

func TestLogSenderDefaultLogger(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	if err := (LogSender{}).Send(t.Context(), testMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if out := buf.String(); !strings.Contains(out, "to=+**********678") || strings.Contains(out, testDigits) {
		t.Errorf("default log output %q, want the masked number only", out)
	}
}
