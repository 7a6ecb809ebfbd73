package main

import (
	"bytes"
	"flag"
	"strings"
	"testing"
)

// TestHelpNamesEveryFlagAndVariable: chatr --help documents each flag with
// its CHATR_* variable.
func TestHelpNamesEveryFlagAndVariable(t *testing.T) {
	fs, _ := newFlagSet()
	var out bytes.Buffer
	fs.SetOutput(&out)
	fs.Usage()
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		for _, want := range []string{"--" + f.Name + " ", envName(f.Name)} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("--help lacks %q", want)
			}
		}
	})
	if n < 15 {
		t.Errorf("only %d flags defined", n)
	}
}

func TestEnvName(t *testing.T) {
	for in, want := range map[string]string{"db": "CHATR_DB", "max-message-bytes": "CHATR_MAX_MESSAGE_BYTES"} {
		if got := envName(in); got != want {
			t.Errorf("envName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEnvFallbackAndFlagPrecedence(t *testing.T) {
	t.Setenv("CHATR_ADDR", "127.0.0.1:9999")
	t.Setenv("CHATR_MAX_CHAT_NAME", "12")
	fs, cfg := newFlagSet()
	if err := parse(fs, []string{"--max-chat-name", "20"}); err != nil {
		t.Fatal(err)
	}
	if cfg.server.Addr != "127.0.0.1:9999" {
		t.Errorf("addr from env = %q", cfg.server.Addr)
	}
	if cfg.server.Limits.MaxChatNameLength != 20 {
		t.Errorf("flag should win over env: got %d", cfg.server.Limits.MaxChatNameLength)
	}
	t.Setenv("CHATR_MESSAGE_BURST", "lots")
	fs, _ = newFlagSet()
	if err := parse(fs, nil); err == nil || !strings.Contains(err.Error(), "CHATR_MESSAGE_BURST") {
		t.Errorf("bad env value: err %v, want one naming CHATR_MESSAGE_BURST", err)
	}
}
