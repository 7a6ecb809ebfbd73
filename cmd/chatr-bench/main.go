// Command chatr-bench is Chatr's load generator: it starts a chatr server
// pinned to one core, drives it from the other with thousands of lean
// WebSocket clients, and prints the figures of its scenarios (idle, fanout,
// rooms, churn, slow; the storms joinstorm and reconnect; moderate) beside a
// raw-TCP baseline measured in the same run. The scenarios live in package
// bench; this is wiring only.
//
//	chatr-bench --chatr bin/chatr --short          # make bench
//	chatr-bench --chatr bin/chatr --scenarios fanout,baseline
//	chatr-bench --chatr bin/chatr --scenario joinstorm --storm-10k
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chatr/chatr/bench"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "baseline-ack-serve" {
		// It serves until its listener fails.
		fmt.Fprintln(os.Stderr, "request baseline:", bench.BaselineAckServe(os.Args[2:]))
		os.Exit(1)
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "baseline-serve" {
		if err := bench.BaselineServe(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "baseline:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "chatr-bench:", err)
		os.Exit(1)
	}
}

func floats(s string) []float64 {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		if v, err := strconv.ParseFloat(strings.TrimSpace(f), 64); err == nil {
			out = append(out, v)
		}
	}
	return out
}

func ints(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if v, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && v > 0 {
			out = append(out, v)
		}
	}
	return out
}

func run() error {
	chatrBin := flag.String("chatr", "bin/chatr", "the chatr binary to benchmark")
	scenarios := flag.String("scenarios", "idle,fanout,baseline,rooms,churn,slow,joinstorm,reconnect,moderate", "scenarios to run, in order")
	scenario := flag.String("scenario", "", "run this one scenario (overrides --scenarios)")
	short := flag.Bool("short", false, "a short version of every scenario (make bench)")
	serverCore := flag.String("server-core", "0", "CPU the server (and the baseline) is pinned to; empty: not pinned")
	genCore := flag.String("generator-core", "1", "CPU the generator pins itself to; empty: not pinned")
	idleConns := flag.Int("idle-conns", 15000, "idle: connections")
	idlePerUser := flag.Int("idle-conns-per-user", 100, "idle: connections per signed-in user (each new user is announced to everyone)")
	subs := flag.Int("subscribers", 1000, "fanout/churn/slow: members of the chat")
	senders := flag.Int("senders", 10, "fanout: members that send, in turn")
	rates := flag.String("fanout-rates", "200,400,500,600,700,800,1000,1200,1500", "fanout: messages/s in, one step each")
	reliable := flag.Bool("reliable", false, "fanout: also run it with every subscriber on the reliable protocol")
	stepDur := flag.Duration("step", 8*time.Second, "duration of one load step")
	roomConns := flag.Int("room-conns", 10000, "rooms: connections")
	roomPerUser := flag.Int("room-conns-per-user", 2, "rooms: connections per user (divides 10)")
	roomRates := flag.String("room-rates", "1000,2000,3000,4000", "rooms: messages/s in, one step each")
	slowDur := flag.Duration("slow-step", 60*time.Second, "slow: how long one member does not read (long enough for its queue to hit the limit)")
	slowRate := flag.Float64("slow-rate", 300, "slow: fanout messages/s (enough to fill the kernel's buffers within the slow step); 0: as churn")
	churnRate := flag.Int("churn", 200, "churn: connects and disconnects per second")
	fixedRate := flag.Float64("fixed-rate", 0, "churn/slow: fanout messages/s (default half the fanout maximum, or 200)")
	minRound := flag.Duration("min-round", 2*time.Millisecond, "shortest epoll round of the client (lets frames batch per read)")
	size := flag.Int("size", 100, "chat message bytes")
	busy := flag.Float64("generator-busy", 0.9, "generator CPU share past which a run is flagged invalid")
	batch := flag.Bool("batch", true, "clients connect as Chatr's own client does (batch=1: presence and membership coalesced, a presence snapshot at connect); false: as the original client")
	serverFlags := flag.String("server-flags", "", "extra chatr flags, space-separated (e.g. --pprof-addr=127.0.0.1:6060)")
	profileDir := flag.String("profile-dir", "", "save a CPU profile of the server for every load step in this directory")
	keepGoing := flag.Bool("keep-going", false, "run every load step even after one fails")
	stormSizes := flag.String("storm-sizes", "1000,3000", "joinstorm: users (one connection each), one run each")
	storm10k := flag.Bool("storm-10k", false, "joinstorm: also run 10,000 users (the issue's ≤ 10 s target)")
	stormTimeout := flag.Duration("storm-timeout", 60*time.Second, "joinstorm/reconnect: bound on every phase that waits for the server")
	stormRSS := flag.Int64("storm-max-rss-mb", 6144, "joinstorm/reconnect: stop waiting once the server's RSS passes this (a shared machine)")
	reconUsers := flag.Int("reconnect-users", 10000, "reconnect: connected users (one connection each)")
	reconChats := flag.Int("reconnect-chats", 5, "reconnect: chats per user")
	reconSize := flag.Int("reconnect-chat-size", 10, "reconnect: members per chat")
	reconDialers := flag.Int("reconnect-dialers", 256, "reconnect: clients reconnecting at the same moment")
	modRates := flag.String("moderate-rates", "200", "moderate: messages/s in to the fanout's members, one step and one baseline each")
	flag.Parse()
	if *scenario != "" {
		*scenarios = *scenario
	}
	// Thousands of sockets: the soft open-files limit up to the hard one
	// (inherited by the baseline processes; the server gets it through
	// ServerOptions.MaxFiles).
	var nofile syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile) == nil && nofile.Cur < nofile.Max {
		nofile.Cur = nofile.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &nofile)
	}

	if *genCore != "" && os.Getenv("CHATR_BENCH_PINNED") == "" {
		// Re-run under taskset so that every thread of the generator is pinned.
		self, err := os.Executable()
		if err != nil {
			return err
		}
		taskset, err := exec.LookPath("taskset")
		if err != nil {
			return err
		}
		env := append(os.Environ(), "CHATR_BENCH_PINNED=1", "GOMAXPROCS=1")
		return syscall.Exec(taskset, append([]string{"taskset", "-c", *genCore, self}, os.Args[1:]...), env)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if *short {
		*idleConns, *stepDur = 3000, 2*time.Second
		*rates = "200,400,600,800,1000,1200,1500"
		*roomConns, *roomRates = 2000, "2000"
		*churnRate = 200
		*slowDur = 5 * time.Second
		*stormSizes, *stormTimeout = "200,600", 30*time.Second
		*reconUsers = 1000
	}
	sizes := ints(*stormSizes)
	if *storm10k {
		sizes = append(sizes, 10000)
	}
	env := &bench.Env{
		Server: bench.ServerOptions{Bin: *chatrBin, Core: *serverCore, Procs: 1, Log: os.Stderr, MaxFiles: nofile.Max, Extra: strings.Fields(*serverFlags), Query: clientQuery(*batch)},
		Log:    os.Stdout, GenBusy: *busy, ProfileDir: *profileDir, KeepGoing: *keepGoing,
	}
	bench.ServerCore = *serverCore
	host, _ := os.Hostname()
	fmt.Printf("chatr-bench %s on %s: %d CPUs, server on CPU %q (GOMAXPROCS=1), generator on CPU %q (GOMAXPROCS=%d), load %s\n",
		time.Now().UTC().Format(time.RFC3339), host, bench.CPUs(), *serverCore, *genCore, runtime.GOMAXPROCS(0), bench.Load())
	fcfg := bench.FanoutConfig{Subscribers: *subs, Senders: *senders, Rates: floats(*rates), StepDur: *stepDur, Size: *size, MinRound: *minRound}
	storm := bench.StormConfig{Self: self, Core: *serverCore, Timeout: *stormTimeout, MaxRSS: *stormRSS << 20, MinRound: *minRound}
	var results []*bench.Result
	var fan *bench.Result
	var fanSteps []bench.StepResult
	best := 0.0
	for _, sc := range strings.Split(*scenarios, ",") {
		sc = strings.TrimSpace(sc)
		fmt.Printf("-- %s (load %s)\n", sc, bench.Load())
		var r *bench.Result
		var err error
		switch sc {
		case "idle":
			r, err = env.Idle(bench.IdleConfig{Conns: *idleConns, ConnsPerUser: *idlePerUser})
		case "fanout":
			r, fanSteps, err = env.Fanout(fcfg)
			fan = r
			for _, s := range fanSteps {
				if s.OK() && s.Use.GenUtil <= *busy {
					best = s.Rate
				}
			}
			if err == nil && *reliable {
				results = append(results, r)
				rc := fcfg
				rc.Reliable = true
				r, _, err = env.Fanout(rc)
			}
		case "baseline":
			rate := best
			if rate == 0 {
				rate = floats(*rates)[0]
			}
			r = &bench.Result{Scenario: "baseline", Load: bench.Load()}
			// Chatr's figure at that rate: the attempt least disturbed by
			// other processes (a disturbed server batches more, which flatters it).
			var chatrPer time.Duration
			others := 2.0
			for _, s := range fanSteps {
				if s.Rate == rate && s.OK() && s.Use.Others < others {
					chatrPer, others = s.CPUPerDelivery, s.Use.Others
				}
			}
			r.Figures = append(r.Figures, bench.Figure{Name: "setting", Value: fmt.Sprintf("%.0f msg/s × %d sockets", rate, *subs), Note: "the fanout's highest sustained rate, same frame size, same client"})
			for _, tick := range []time.Duration{0, 20 * time.Millisecond} {
				f, berr := env.Baseline(bench.BaselineConfig{Self: self, Core: *serverCore, N: *subs, Rate: rate, Dur: *stepDur, Coalesce: tick, Size: *size, MinRound: *minRound})
				if berr != nil {
					err = berr
					break
				}
				name := "raw TCP, one write per frame"
				if tick > 0 {
					name = "raw TCP, coalesced per " + tick.String()
				}
				per := f.PerDelivery()
				note := fmt.Sprintf("%.1f frames/write, p99 %v, kept up %.0f%%", float64(f.Deliveries)/float64(max(f.Writes, 1)), f.P99, 100*f.Wall.Seconds()/stepDur.Seconds())
				r.Figures = append(r.Figures, bench.Figure{Name: name, Value: fmt.Sprintf("%.2f µs/delivery", float64(per.Nanoseconds())/1e3), Note: note})
				if chatrPer > 0 && per > 0 {
					r.Figures = append(r.Figures, bench.Figure{Name: "  Chatr ÷ this", Value: fmt.Sprintf("%.2f×", float64(chatrPer)/float64(per)), Note: fmt.Sprintf("Chatr %.2f µs/delivery (stores every message, parses, checks membership)", float64(chatrPer.Nanoseconds())/1e3)})
				}
				if f.GenUtil > *busy {
					r.Invalid = append(r.Invalid, fmt.Sprintf("generator saturated reading the baseline (%.0f%%)", 100*f.GenUtil))
				}
			}
		case "rooms":
			r, _, err = env.Rooms(bench.RoomsConfig{Conns: *roomConns, RoomSize: 10, ConnsPerUser: *roomPerUser, Rates: floats(*roomRates), StepDur: *stepDur, Size: *size, MinRound: *minRound})
		case "churn", "slow":
			rate := *fixedRate
			if rate == 0 {
				rate = 200
				if best > 0 {
					rate = best / 2
				}
			}
			if sc == "churn" {
				r, err = env.Churn(fcfg, rate, *churnRate)
			} else {
				if *slowRate > 0 {
					rate = *slowRate
				}
				r, err = env.Slow(fcfg, rate, *slowDur)
			}
		case "joinstorm":
			r, err = env.JoinStorm(bench.JoinStormConfig{StormConfig: storm, Sizes: sizes})
		case "reconnect":
			r, err = env.Reconnect(bench.ReconnectConfig{StormConfig: storm, Users: *reconUsers, ChatsPerUser: *reconChats, ChatSize: *reconSize, Dialers: *reconDialers})
		case "moderate":
			mc := fcfg
			mc.Rates = floats(*modRates)
			mc.StepDur = max(*stepDur, 4*time.Second)
			r, err = env.Moderate(mc, self, *serverCore)
		default:
			err = fmt.Errorf("unknown scenario %q", sc)
		}
		if err != nil {
			fmt.Printf("   %s failed: %v\n", sc, err)
			results = append(results, &bench.Result{Scenario: sc, Load: bench.Load(), Invalid: []string{"failed: " + err.Error()}})
			continue
		}
		results = append(results, r)
	}
	_ = fan
	fmt.Println()
	fmt.Print(bench.Table(results))
	return nil
}

// clientQuery is the query the clients add to their hub URL.
func clientQuery(batch bool) string {
	if batch {
		return "batch=1"
	}
	return ""
}
