package chatr_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/chatr/chatr"
)

func TestParseSearch(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		q    string
		want chatr.ParsedSearch
	}{
		{"lunch plans", chatr.ParsedSearch{Text: "lunch plans"}},
		{"in:#general from:@bob lunch", chatr.ParsedSearch{Text: "lunch", ChatName: "general", FromHandle: "bob"}},
		{"IN:general FROM:bob", chatr.ParsedSearch{ChatName: "general", FromHandle: "bob"}},
		{"has:file before:2026-01-02 after:2026-01-01 x", chatr.ParsedSearch{Text: "x", HasFile: true, Before: day(2), After: day(1)}},
		{"in:# from:@ in: has:cake url:x", chatr.ParsedSearch{Text: "in:# from:@ in: has:cake url:x"}},
	} {
		got, err := chatr.ParseSearch(tc.q)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseSearch(%q): got %+v, %v; want %+v", tc.q, got, err, tc.want)
		}
	}
	for _, q := range []string{"before:yesterday", "after:2026-13-01", "before:2026-1-1"} {
		if _, err := chatr.ParseSearch(q); chatr.ErrorCode(err) != chatr.EINVALID {
			t.Errorf("ParseSearch(%q): got %v, want EINVALID", q, err)
		}
	}
}

func TestCJKNgrams(t *testing.T) {
	for _, tc := range []struct {
		in         string
		tail       bool
		want       string
		wantTokens []string
	}{
		{"plain text", true, "plain text", nil},
		{"東京都", true, "", []string{"東京", "京都", "都"}},
		{"東京都", false, "", []string{"東京", "京都"}},
		{"a東b", true, "", []string{"a", "東", "b"}},
		{"Tokyo東京", false, "", []string{"Tokyo", "東京"}},
	} {
		got := chatr.CJKNgrams(tc.in, tc.tail)
		if tc.wantTokens == nil {
			if got != tc.want {
				t.Errorf("CJKNgrams(%q, %v) = %q, want %q", tc.in, tc.tail, got, tc.want)
			}
			continue
		}
		if toks := fields(got); !reflect.DeepEqual(toks, tc.wantTokens) {
			t.Errorf("CJKNgrams(%q, %v) = %q, want tokens %q", tc.in, tc.tail, got, tc.wantTokens)
		}
	}
}

func fields(s string) []string {
	var out []string
	cur := ""
	for _, r := range s + " " {
		if r == ' ' {
			if cur != "" {
				out = append(out, cur)
			}
			cur = ""
			continue
		}
		cur += string(r)
	}
	return out
}

func TestSearchTermsBudget(t *testing.T) {
	long := ""
	for range 100 {
		long += "word "
	}
	if got := len(chatr.SearchTerms(long)); got != chatr.MaxSearchTerms {
		t.Errorf("terms of 100 words: %d, want %d", got, chatr.MaxSearchTerms)
	}
	if got := chatr.SearchTerms(`" * - ( ) -- ""`); len(got) != 0 {
		t.Errorf("punctuation only: got %+v, want no terms", got)
	}
	if got := chatr.SearchTerms("東"); len(got) != 1 || !got[0].Prefix {
		t.Errorf("one CJK character: got %+v, want a prefix term", got)
	}
}
