package storetest

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatr/chatr"
)

// SearchCorpusVersion names the generated corpus; change it with the
// generator, so that no cache built by an older one is used.
const SearchCorpusVersion = "v1"

// SearchBenchUser is the member the search benchmark searches as: a member
// of every 20th chat, so 5% of the messages are theirs to find.
const SearchBenchUser = "bench-user"

// commonWords are English's most frequent words, in order; the rest of the
// vocabulary is made of syllables. Ranks follow Zipf's law, as words do.
var commonWords = strings.Fields(`the be to of and a in that have i it for not on with he as you do at this but his by
from they we say her she or an will my one all would there their what so up out if about who get which go me when make
can like time no just him know take people into year your good some could them see other than then now look only come
its over think also back after use two how our work first well way even new want because any these give day most us
meeting deploy release bug fix test review lunch coffee tomorrow today monday friday plan team customer server database
login error issue branch merge ticket build green red ok thanks please sorry yes maybe later soon late early call`)

// SearchCorpus returns n messages in chats "chat-0" .. "chat-<chats-1>",
// deterministic for (n, chats): one to twenty words each, drawn by Zipf's
// law from a vocabulary of 50,000, one minute apart from 2025-01-01. The
// text is cached in os.TempDir under SearchCorpusVersion.
func SearchCorpus(tb testing.TB, n, chats int) []chatr.Message {
	tb.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("chatr-search-corpus-%s-%d.txt", SearchCorpusVersion, n))
	texts, err := readLines(path)
	if err != nil || len(texts) != n {
		texts = generateTexts(n)
		if err := os.WriteFile(path+".tmp", []byte(strings.Join(texts, "\n")+"\n"), 0o644); err == nil {
			_ = os.Rename(path+".tmp", path)
		}
	}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := make([]chatr.Message, n)
	ids := make([]int64, chats)
	for i, text := range texts {
		c := (i * 7919) % chats // spread consecutive messages over chats
		ids[c]++
		ms[i] = chatr.Message{ChatID: fmt.Sprint("chat-", c), ID: ids[c], FromUserID: fmt.Sprint("user-", i%500), FromUserName: fmt.Sprint("User ", i%500),
			Text: text, Time: start.Add(time.Duration(i) * time.Minute)}
	}
	return ms
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out, sc.Err()
}

// vocabulary is commonWords followed by made-up words, rank order.
func vocabulary() []string {
	syll := strings.Fields("ka lo mi ne ru sa te vo zi pa do fe gu hi ja ke li mo nu po qua ri so tu ve wa xi yo")
	words := slices.Clone(commonWords)
	seen := map[string]bool{}
	for _, w := range words {
		seen[w] = true
	}
	r := rand.New(rand.NewPCG(1, 2))
	for len(words) < 50000 {
		var b strings.Builder
		for range 2 + r.IntN(3) {
			b.WriteString(syll[r.IntN(len(syll))])
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			words = append(words, w)
		}
	}
	return words
}

func newZipf(seed uint64, n int) func() int {
	z := rand.NewZipf(rand.New(rand.NewPCG(seed, seed+1)), 1.07, 2, uint64(n-1))
	return func() int { return int(z.Uint64()) }
}

func generateTexts(n int) []string {
	words := vocabulary()
	next := newZipf(3, len(words))
	r := rand.New(rand.NewPCG(5, 6))
	texts := make([]string, n)
	for i := range texts {
		k := 1 + r.IntN(20)
		ws := make([]string, k)
		for j := range ws {
			ws[j] = words[next()]
		}
		texts[i] = strings.Join(ws, " ")
	}
	return texts
}

// SearchQueries returns n one-word and n two-word queries drawn as the
// corpus's words are, so frequent words are searched more often.
func SearchQueries(n int) (one, two []string) {
	words := vocabulary()
	next := newZipf(7, len(words))
	for range n {
		one = append(one, words[next()])
		two = append(two, words[next()]+" "+words[next()])
	}
	return one, two
}

// BenchmarkSearch times Search as SearchBenchUser over a store loaded with
// SearchCorpus, one query after another, and reports the p50 and p99
// latencies of one- and two-word queries in ms.
func BenchmarkSearch(b *testing.B, s chatr.Searcher) {
	one, two := SearchQueries(2000)
	for _, set := range []struct {
		name    string
		queries []string
	}{{"one-word", one}, {"two-word", two}} {
		b.Run(set.name, func(b *testing.B) {
			var lat []time.Duration
			found := 0
			i := 0
			for b.Loop() {
				q := set.queries[i%len(set.queries)]
				i++
				start := time.Now()
				page, err := s.Search(b.Context(), SearchBenchUser, chatr.SearchQuery{Text: q})
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				found += len(page.Results)
			}
			slices.Sort(lat)
			ms := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
			b.ReportMetric(ms(0.50), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
			b.ReportMetric(ms(1), "max-ms")
			b.ReportMetric(float64(found)/float64(len(lat)), "results/op")
		})
	}
}
