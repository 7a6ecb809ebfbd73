package bench

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// StormConfig is what the storm scenarios (joinstorm, reconnect) share.
type StormConfig struct {
	Self     string        // this executable, for the request baseline
	Core     string        // the server's CPU, for the request baseline
	Timeout  time.Duration // bound on every phase that waits for the server
	MaxRSS   int64         // a phase stops waiting once the server's RSS passes this
	MinRound time.Duration
}

// waitUntil polls done every 20 ms until it holds, timeout passes or the
// server's RSS passes the bound; why says which ended the wait when it is
// not done.
func (sc StormConfig) waitUntil(pid int, done func() bool) (ok bool, why string) {
	end := time.Now().Add(sc.Timeout)
	for i := 0; ; i++ {
		if done() {
			return true, ""
		}
		if time.Now().After(end) {
			return false, fmt.Sprintf("not done within %v", sc.Timeout)
		}
		if sc.MaxRSS > 0 && i%10 == 0 {
			if v, err := RSS(pid); err == nil && v > sc.MaxRSS {
				return false, fmt.Sprintf("stopped: server RSS %.0f MB passed the %.0f MB bound", mb(v), mb(sc.MaxRSS))
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// JoinStormConfig is the join storm: N distinct users, one connection each,
// all join one chat at once.
type JoinStormConfig struct {
	StormConfig
	Sizes []int // N, one run each, smallest first
}

// joinRun is one size's figures.
type joinRun struct {
	n                      int
	connect, connectSettle time.Duration
	connectFrames          uint64
	join, settle           time.Duration
	joined, failed         uint64
	frames                 uint64
	events                 map[string]uint64
	cpu                    time.Duration
	rss0, peak             int64
	others, gen            float64
	done                   bool
	why                    string
	base                   *AckFigures
}

// JoinStorm runs the join storm for every size and reports how its time
// grows with N, with the request baseline at the same N.
func (e *Env) JoinStorm(cfg JoinStormConfig) (*Result, error) {
	out := &Result{Scenario: "joinstorm"}
	var runs []*joinRun
	for _, n := range cfg.Sizes {
		r, err := e.joinStormOnce(cfg, n)
		if err != nil {
			return nil, fmt.Errorf("join storm of %d: %w", n, err)
		}
		b, err := e.AckBaseline(AckBaselineConfig{Self: cfg.Self, Core: cfg.Core, N: n, PerConn: 1, Timeout: cfg.Timeout, MinRound: cfg.MinRound})
		if err != nil {
			out.Invalid = append(out.Invalid, err.Error())
		}
		r.base = b
		runs = append(runs, r)
		e.logf("N=%d: joined %d/%d in %v (%s), %d frames, server CPU %v, RSS %.0f → peak %.0f MB", n, r.joined, n, rd(r.join), r.why, r.frames, rd(r.cpu), mb(r.rss0), mb(r.peak))
	}
	out.Load = Load()
	for _, r := range runs {
		p := fmt.Sprintf("N=%d ", r.n)
		status := "all joined"
		if !r.done {
			status = fmt.Sprintf("%d joined, %d failed: %s", r.joined, r.failed, r.why)
			out.Invalid = append(out.Invalid, fmt.Sprintf("N=%d did not finish: %s", r.n, r.why))
		}
		out.add(p+"connect (no join)", fmt.Sprintf("%v, settled %v", rd(r.connect), rd(r.connectSettle)), fmt.Sprintf("%d frames to clients (%.1f per connection)", r.connectFrames, float64(r.connectFrames)/float64(r.n)))
		out.add(p+"time until every join answered", rd(r.join).String(), status)
		out.add(p+"frames to clients", strconv.FormatUint(r.frames, 10), fmt.Sprintf("%.1f per join, until quiet (%v after the last ack): %s", float64(r.frames)/float64(r.n), rd(r.settle), eventList(r.events)))
		out.add(p+"server CPU", rd(r.cpu).String(), fmt.Sprintf("%.0f µs per join; other processes on its core %.0f%%, generator %.0f%%", float64(r.cpu.Microseconds())/float64(r.n), 100*r.others, 100*r.gen))
		out.add(p+"server RSS before → peak", fmt.Sprintf("%.1f → %.1f MB", mb(r.rss0), mb(r.peak)), fmt.Sprintf("peak ÷ connections: %.1f KB", float64(r.peak)/float64(r.n)/1000))
		if b := r.base; b != nil && b.Answer > 0 {
			out.add(p+"request baseline", fmt.Sprintf("%v, %v CPU", rd(b.Answer), rd(b.AnswerCPU)), "raw TCP, same client, one goroutine per socket, one ack write per request; connect "+rd(b.Connect).String())
			cpuRatio := "n/a"
			if b.AnswerCPU > 0 {
				cpuRatio = fmt.Sprintf("%.0f×", float64(r.cpu)/float64(b.AnswerCPU))
			}
			out.add(p+"  Chatr ÷ baseline", fmt.Sprintf("time %.0f×, CPU %s", float64(r.join)/float64(b.Answer), cpuRatio), "")
		}
		if r.others > 0.1 {
			out.Invalid = append(out.Invalid, fmt.Sprintf("N=%d noisy: other processes took %.0f%% of the server's core", r.n, 100*r.others))
		}
	}
	for i := 1; i < len(runs); i++ {
		a, b := runs[i-1], runs[i]
		note := fmt.Sprintf("linear: %.1f×", float64(b.n)/float64(a.n))
		if b.n == 3*a.n {
			note += "; target ≤ 3.5×"
		}
		if !a.done || !b.done {
			note += "; a run did not finish, so this is a lower bound"
		}
		out.add(fmt.Sprintf("time N=%d ÷ N=%d", b.n, a.n), fmt.Sprintf("%.2f×", float64(b.join)/float64(a.join)), note)
		if a.base != nil && b.base != nil && a.base.Answer > 0 {
			out.add(fmt.Sprintf("  baseline N=%d ÷ N=%d", b.n, a.n), fmt.Sprintf("%.2f×", float64(b.base.Answer)/float64(a.base.Answer)), "")
		}
	}
	for _, r := range runs {
		if r.n >= 10000 {
			met := "no"
			if r.done && r.join <= 10*time.Second {
				met = "yes"
			}
			out.add(fmt.Sprintf("N=%d all joined ≤ 10 s", r.n), met, rd(r.join).String())
		}
	}
	return out, nil
}

func (e *Env) joinStormOnce(cfg JoinStormConfig, n int) (*joinRun, error) {
	srv, err := StartServer(e.Server)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	users, err := e.signInAll(srv, "storm", n+1)
	if err != nil {
		return nil, err
	}
	c, err := NewClient(cfg.MinRound)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	// The chat's owner stays connected, as a member.
	if _, err := Connect(c, srv.Server, users[0], false, -1, "storm", "storm"); err != nil {
		return nil, err
	}
	c.Quiet(500*time.Millisecond, cfg.Timeout)
	r := &joinRun{n: n}

	// Everyone connects first: the join is measured alone.
	f0, conn0 := c.Snapshot().Frames, c.Connected()
	t0 := time.Now()
	conns := make([]*Conn, n)
	if err := parallel(n, 64, func(i int) error {
		k, err := Connect(c, srv.Server, users[i+1], false, i, "", "")
		conns[i] = k
		return err
	}); err != nil {
		return nil, err
	}
	if ok, why := cfg.waitUntil(srv.Pid(), func() bool { return c.Connected()-conn0 >= int64(n) }); !ok {
		return nil, fmt.Errorf("connect: %s", why)
	}
	r.connect = time.Since(t0)
	// A second without frames: a busy core can pause the server's
	// announcements for a few hundred milliseconds.
	c.Quiet(time.Second, cfg.Timeout)
	r.connectSettle = max(r.connect, c.LastFrame().Sub(t0))
	r.connectFrames = c.Snapshot().Frames - f0
	e.logf("N=%d connected in %v, %d frames, settled in %v", n, rd(r.connect), r.connectFrames, rd(r.connectSettle))

	r.rss0, _ = RSS(srv.Pid())
	s0 := c.Snapshot()
	use := startUsage(srv.Pid())
	peak := watchRSS(srv.Pid())
	waitProfile := e.profile(srv, fmt.Sprintf("joinstorm-%d", n), min(cfg.Timeout, 10*time.Second))
	t1 := time.Now()
	frame := eventFrame("joinChat", "storm")
	for _, k := range conns {
		// The same ackId on every connection: acks are counted per connection.
		if err := k.Write(frame); err != nil {
			return nil, err
		}
	}
	r.done, r.why = cfg.waitUntil(srv.Pid(), func() bool { return c.Snapshot().Acks-s0.Acks >= uint64(n) })
	r.join = time.Since(t1)
	t2 := time.Now()
	c.Quiet(time.Second, cfg.Timeout)
	r.settle = max(0, c.LastFrame().Sub(t2))
	use.stop()
	waitProfile()
	r.peak = peak()
	s1 := c.Snapshot()
	r.failed = s1.AckErrors - s0.AckErrors
	r.joined = s1.Acks - s0.Acks - r.failed
	if r.failed > 0 {
		r.done = false
		r.why = "ack error: " + s1.AckError
	}
	r.frames = s1.Frames - s0.Frames
	r.events = map[string]uint64{}
	for k, v := range s1.Events {
		if d := v - s0.Events[k]; d > 0 {
			r.events[k] = d
		}
	}
	r.cpu, r.others, r.gen = use.Srv, use.Others, use.GenUtil
	return r, nil
}

// eventList formats frame counts by event, largest first.
func eventList(m map[string]uint64) string {
	type kv struct {
		k string
		v uint64
	}
	var l []kv
	for k, v := range m {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v })
	var s []string
	for _, x := range l {
		s = append(s, fmt.Sprintf("%s %d", x.k, x.v))
	}
	return strings.Join(s, ", ")
}
