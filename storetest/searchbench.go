package storetest

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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

// searchQueries returns n one-word and n two-word queries drawn as the
// corpus's words are, so frequent words are searched more often, keeping
// only those whose rarest word has a rank in [lo, hi) of the vocabulary.
func searchQueries(n, lo, hi int) (one, two []string) {
	words := vocabulary()
	next := newZipf(7, len(words))
	in := func(rank int) bool { return rank >= lo && rank < hi }
	for len(one) < n || len(two) < n {
		a, b, c := next(), next(), next()
		if in(a) && len(one) < n {
			one = append(one, words[a])
		}
		if in(max(b, c)) && len(two) < n {
			two = append(two, words[b]+" "+words[c])
		}
	}
	return one, two
}

// searchBands are the query sets of BenchmarkSearch: the words as users
// type them (Zipf's law, mostly frequent words), then by the rank of the
// query's rarest word. In SearchCorpus a word of rank 0 ("the") is in about
// half the messages, rank 100 in about 1 %, rank 1,000 in 0.1 % (about 50
// of the searching user's messages) and rank 10,000 in a handful.
var searchBands = []struct {
	name   string
	lo, hi int
}{
	{"zipf", 0, math.MaxInt},
	{"common", 0, 100},          // each word in more than ~1 % of messages
	{"middle", 100, 1000},       // ~0.1 % to 1 %
	{"rare", 1000, math.MaxInt}, // under ~0.1 %, down to none
}

// BenchmarkSearch times Search as SearchBenchUser over a store loaded with
// SearchCorpus, one query after another, and reports in ms the p50, p95 and
// p99 of one- and two-word queries in each band of word frequency: of the
// latency as the caller sees it, and of the CPU time spent on each query by
// this process and by serverCPU (the store's server, nil for an embedded
// store). On a busy machine the latency counts the waits for a CPU and the
// CPU time does not: the CPU time is what a query costs one idle core. The
// load average when each set ran is reported as load1.
//
// serverCPU returns the CPU time the server has spent so far for this
// process; it is called with start set before each query (when it may look
// up what to measure) and without it after.
func BenchmarkSearch(b *testing.B, s chatr.Searcher, serverCPU func(start bool) time.Duration) {
	if serverCPU == nil {
		serverCPU = func(bool) time.Duration { return 0 }
	}
	for _, band := range searchBands {
		one, two := searchQueries(1000, band.lo, band.hi)
		for _, set := range []struct {
			name    string
			queries []string
		}{{"one-word", one}, {"two-word", two}} {
			b.Run(set.name+"/"+band.name, func(b *testing.B) { benchSearch(b, s, set.queries, serverCPU) })
		}
	}
}

func benchSearch(b *testing.B, s chatr.Searcher, queries []string, serverCPU func(bool) time.Duration) {
	var lat, cpu []time.Duration
	type costly struct {
		query string
		cpu   time.Duration
	}
	var slowest []costly // the three that cost the most CPU, for the log
	found := 0
	i := 0
	for b.Loop() {
		q := queries[i%len(queries)]
		i++
		server0 := serverCPU(true)
		self0 := processCPU()
		start := time.Now()
		page, err := s.Search(b.Context(), SearchBenchUser, chatr.SearchQuery{Text: q})
		lat = append(lat, time.Since(start))
		cpu = append(cpu, processCPU()-self0+serverCPU(false)-server0)
		if err != nil {
			b.Fatal(err)
		}
		found += len(page.Results)
		slowest = append(slowest, costly{q, cpu[len(cpu)-1]})
		slices.SortFunc(slowest, func(x, y costly) int { return int(y.cpu - x.cpu) })
		slowest = slowest[:min(len(slowest), 3)]
	}
	for _, c := range slowest {
		b.Logf("%q: %v CPU", c.query, c.cpu.Round(time.Microsecond))
	}
	report := func(ds []time.Duration, unit string) {
		slices.Sort(ds)
		at := func(p float64) float64 { return float64(ds[int(p*float64(len(ds)-1))]) / 1e6 }
		b.ReportMetric(at(0.50), "p50-"+unit)
		b.ReportMetric(at(0.95), "p95-"+unit)
		b.ReportMetric(at(0.99), "p99-"+unit)
	}
	report(lat, "ms")
	report(cpu, "cpu-ms")
	b.ReportMetric(float64(found)/float64(len(lat)), "results/op")
	b.ReportMetric(loadAverage(), "load1")
}

// loadAverage is the machine's 1-minute load average (0 where there is no
// /proc/loadavg).
func loadAverage() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	l, _ := strconv.ParseFloat(f[0], 64)
	return l
}
