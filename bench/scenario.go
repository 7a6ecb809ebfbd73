package bench

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Figure is one measured value.
type Figure struct {
	Name  string
	Value string
	Note  string
}

// Result is one scenario's outcome.
type Result struct {
	Scenario string
	Figures  []Figure
	Invalid  []string // why the figures cannot be trusted (a saturated generator, ...)
	Load     string   // 1-minute load average when it ended
}

func (r *Result) add(name, value, note string) {
	r.Figures = append(r.Figures, Figure{name, value, note})
}

// Env is what every scenario needs.
type Env struct {
	Server ServerOptions
	Log    io.Writer // progress lines
	// GenBusy is the generator CPU share past which a run is invalid.
	GenBusy float64
	// ProfileDir, when set, receives a CPU profile of the server for every
	// load step.
	ProfileDir string
	// KeepGoing runs every step even past the first that fails.
	KeepGoing bool
}

// profile fetches a CPU profile of d from the server's pprof listener.
func (e *Env) profile(srv *ServerProc, name string, d time.Duration) func() {
	if e.ProfileDir == "" || d < 2*time.Second {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", srv.Pprof, int(d.Seconds())-1))
		if err != nil {
			e.logf("profile: %v", err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(filepath.Join(e.ProfileDir, name+".prof"))
		if err != nil {
			e.logf("profile: %v", err)
			return
		}
		io.Copy(f, resp.Body)
		f.Close()
	}()
	return func() { <-done }
}

func (e *Env) logf(format string, args ...any) {
	if e.Log != nil {
		fmt.Fprintf(e.Log, "  "+format+"\n", args...)
	}
}

// Step is one load level of a fan-out or rooms run.
type Step struct {
	Rate  float64 // messages per second in
	Dur   time.Duration
	Label string
	// Before runs before the step starts (pause a reader, start churn...).
	Before func()
	// After runs once the step's messages have drained.
	After func()
}

// StepResult is the outcome of one step.
type StepResult struct {
	Step
	Sent, Failed       int64
	Expected, Received uint64
	Disorder           uint64
	P50, P99, P999     time.Duration
	Max                time.Duration
	Use                *usage
	CPUPerDelivery     time.Duration
}

// Lost is the deliveries that never arrived.
func (s *StepResult) Lost() int64 { return int64(s.Expected) - int64(s.Received) }

// OK says whether the step was sustained: p99 ≤ 50 ms, nothing lost or out
// of order.
func (s *StepResult) OK() bool {
	return s.Lost() <= 0 && s.Disorder == 0 && s.P99 <= 50*time.Millisecond && s.Failed == 0
}

func (s *StepResult) String() string {
	return fmt.Sprintf("%-10s %6.0f msg/s in: %8.0f deliveries/s, p50 %-8v p99 %-8v p99.9 %-8v lost %d disorder %d failed %d, server %.0f%% (%.2f µs/delivery), others on its core %.0f%%, generator %.0f%%",
		s.Label, s.Rate, float64(s.Received)/s.Dur.Seconds(), s.P50, s.P99, s.P999, s.Lost(), s.Disorder, s.Failed,
		100*s.Use.SrvUtil, float64(s.CPUPerDelivery.Nanoseconds())/1e3, 100*s.Use.Others, 100*s.Use.GenUtil)
}

// sender is a connection that sends bench messages to its group.
type sender struct {
	k     *Conn
	group string
	index int // its number within its group, for order checks
	seq   int
	recip int // members that receive what it sends (itself included)
}

// load sends messages at an open-loop rate over the senders in turn and
// measures every step. groupOf gives each message's expected recipients.
type load struct {
	env     *Env
	c       *Client
	srv     *ServerProc
	senders []*sender
	size    int // chat message bytes
}

func (l *load) run(steps []Step, stopEarly bool) []StepResult {
	var out []StepResult
	next := 0
	retries := 0
	for si, i := 0, 0; i < len(steps); si++ {
		st := steps[i]
		if si >= maxSteps {
			break
		}
		if st.Before != nil {
			st.Before()
		}
		snap0 := l.c.Snapshot()
		m0, _ := Metrics(l.srv.Server)
		use := startUsage(l.srv.Pid())
		waitProfile := l.env.profile(l.srv, fmt.Sprintf("%s-%d-%.0f", strings.ReplaceAll(st.Label, " ", "_"), si, st.Rate), st.Dur)
		sent, expected := l.send(si, st, &next)
		waitProfile()
		// Drain: wait until everything arrived or nothing moves for a while.
		deadline := time.Now().Add(3 * time.Second)
		last, lastMove := uint64(0), time.Now()
		for time.Now().Before(deadline) {
			got := l.c.Step(si).Received
			if got >= expected {
				break
			}
			if got != last {
				last, lastMove = got, time.Now()
			} else if time.Since(lastMove) > time.Second {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		use.stop()
		m1, _ := Metrics(l.srv.Server)
		snap1 := l.c.Snapshot()
		ss := l.c.Step(si)
		r := StepResult{Step: st, Sent: sent, Failed: int64(snap1.AckErrors - snap0.AckErrors),
			Expected: expected, Received: ss.Received, Disorder: ss.Disorder,
			P50: ss.Hist.Quantile(0.5), P99: ss.Hist.Quantile(0.99), P999: ss.Hist.Quantile(0.999), Max: ss.Hist.Max(), Use: use}
		if ss.Received > 0 {
			r.CPUPerDelivery = use.Srv / time.Duration(ss.Received)
		}
		if r.Failed > 0 {
			l.env.logf("ack error: %s", snap1.AckError)
		}
		l.env.logf("%s", r.String())
		l.env.logf("           server view: %s", serverView(m0, m1, sent))
		out = append(out, r)
		if st.After != nil {
			st.After()
		}
		failed := !r.OK() || use.GenUtil > l.env.GenBusy
		if stopEarly && failed && use.Others > 0.1 && retries < 2 {
			// Other processes took the server's core: run the step again.
			retries++
			l.env.logf("           noisy (others took %.0f%% of the server's core): once more", 100*use.Others)
			continue
		}
		retries = 0
		i++
		if stopEarly && !l.env.KeepGoing && failed {
			break
		}
	}
	return out
}

// send runs one step's schedule and returns the messages sent and the
// deliveries expected.
func (l *load) send(step int, st Step, next *int) (int64, uint64) {
	interval := time.Duration(float64(time.Second) / st.Rate)
	start := time.Now()
	n := int(st.Dur / interval)
	var expected uint64
	text := make([]byte, 0, l.size+32)
	frame := make([]byte, 0, 512)
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		s := l.senders[*next%len(l.senders)]
		*next++
		s.seq++
		text = benchText(text, due.UnixNano(), s.index, s.seq, step, l.size)
		frame = frame[:0]
		payload := make([]byte, 0, 256)
		payload = append(payload, `{"type":"sendToGroup","group":"`...)
		payload = append(payload, s.group...)
		payload = append(payload, `","ackId":`...)
		payload = strconv.AppendUint(payload, ackIDs.Add(1), 10)
		payload = append(payload, `,"dataType":"json","data":{"message":"`...)
		payload = append(payload, text...)
		payload = append(payload, `"}}`...)
		frame = appendClientFrame(frame, opText, payload)
		if err := s.k.Write(frame); err != nil {
			l.env.logf("send: %v", err)
			continue
		}
		expected += uint64(s.recip)
	}
	return int64(n), expected
}

// signInAll signs in n guests, logging the rate.
func (e *Env) signInAll(srv *ServerProc, prefix string, n int) ([]User, error) {
	users, d, err := SignInMany(srv.Server, prefix, n, 32)
	if err != nil {
		return nil, err
	}
	e.logf("signed in %d guests in %v (%.0f/s)", n, d.Round(time.Millisecond), float64(n)/d.Seconds())
	return users, nil
}

// FanoutConfig is the fanout scenario (and churn and slow, which run on it).
type FanoutConfig struct {
	Subscribers int  // members of the chat, senders included
	Senders     int  // members that send, in turn
	Reliable    bool // subscribers on the reliable protocol
	Rates       []float64
	StepDur     time.Duration
	Size        int
	MinRound    time.Duration
	// SmallLast gives the last subscriber a 4 KiB receive buffer (slow).
	SmallLast bool
}

type fanoutRig struct {
	env  *Env
	srv  *ServerProc
	c    *Client
	subs []*Conn
	load *load
}

func (e *Env) fanoutRig(cfg FanoutConfig) (*fanoutRig, error) {
	srv, err := StartServer(e.Server)
	if err != nil {
		return nil, err
	}
	r := &fanoutRig{env: e, srv: srv}
	fail := func(err error) (*fanoutRig, error) { r.close(); return nil, err }
	users, err := e.signInAll(srv, "sub", cfg.Subscribers)
	if err != nil {
		return fail(err)
	}
	if r.c, err = NewClient(cfg.MinRound); err != nil {
		return fail(err)
	}
	r.subs = make([]*Conn, cfg.Subscribers)
	if r.subs[0], err = Connect(r.c, srv.Server, users[0], cfg.Reliable, 0, "fanout", "fanout"); err != nil {
		return fail(err)
	}
	start := time.Now()
	err = parallel(cfg.Subscribers-1, 16, func(i int) error {
		rcv := 0
		if cfg.SmallLast && i+1 == cfg.Subscribers-1 {
			rcv = 4096
		}
		k, err := ConnectBuf(r.c, srv.Server, users[i+1], cfg.Reliable, i+1, "", "fanout", rcv)
		r.subs[i+1] = k
		return err
	})
	if err != nil {
		return fail(err)
	}
	e.logf("%d subscribers joined in %v", cfg.Subscribers, time.Since(start).Round(time.Millisecond))
	r.c.Quiet(500*time.Millisecond, 60*time.Second)
	r.load = &load{env: e, c: r.c, srv: srv, size: cfg.Size}
	for i := range cfg.Senders {
		r.load.senders = append(r.load.senders, &sender{k: r.subs[i], group: "fanout", index: i, recip: cfg.Subscribers})
	}
	return r, nil
}

func (r *fanoutRig) close() {
	if r.c != nil {
		r.c.Close()
	}
	r.srv.Stop()
}

func (r *fanoutRig) steps(rates []float64, dur time.Duration, label string) []Step {
	var s []Step
	for _, rate := range rates {
		s = append(s, Step{Rate: rate, Dur: dur, Label: label})
	}
	return s
}

// Fanout raises the rate of messages into one chat of cfg.Subscribers
// until p99 passes 50 ms or a delivery is lost.
func (e *Env) Fanout(cfg FanoutConfig) (*Result, []StepResult, error) {
	r, err := e.fanoutRig(cfg)
	if err != nil {
		return nil, nil, err
	}
	defer r.close()
	res := r.load.run(r.steps(cfg.Rates, cfg.StepDur, "fanout"), true)
	name := "fanout"
	if cfg.Reliable {
		name = "fanout-reliable"
	}
	out := &Result{Scenario: name, Load: Load()}
	best := -1
	for i := range res {
		if res[i].OK() && res[i].Use.GenUtil <= e.GenBusy {
			best = i
		}
	}
	out.add("subscribers", strconv.Itoa(cfg.Subscribers), fmt.Sprintf("%d sender(s), %d-byte messages, %v steps", cfg.Senders, cfg.Size, cfg.StepDur))
	if best < 0 {
		out.Invalid = append(out.Invalid, "no rate was sustained")
		if len(res) > 0 {
			best = 0
		} else {
			return out, res, nil
		}
	}
	b := res[best]
	stepFigures(out, &b, e.GenBusy)
	if best == len(res)-1 && res[best].OK() {
		out.add("note", "highest rate tried was sustained", "the limit is higher")
	} else if best+1 < len(res) {
		n := res[best+1]
		out.add("next step", fmt.Sprintf("%.0f msg/s", n.Rate), fmt.Sprintf("p99 %v, lost %d, disorder %d, generator %.0f%%", n.P99, n.Lost(), n.Disorder, 100*n.Use.GenUtil))
	}
	return out, res, nil
}

func stepFigures(out *Result, b *StepResult, busy float64) {
	out.add("rate in", fmt.Sprintf("%.0f msg/s", b.Rate), "")
	out.add("deliveries/s", fmt.Sprintf("%.0f", float64(b.Received)/b.Dur.Seconds()), "")
	out.add("latency p50/p99/p99.9", fmt.Sprintf("%v / %v / %v", rd(b.P50), rd(b.P99), rd(b.P999)), "max "+rd(b.Max).String())
	out.add("lost / out of order / failed", fmt.Sprintf("%d / %d / %d", max(b.Lost(), 0), b.Disorder, b.Failed), "")
	out.add("server CPU per delivery", fmt.Sprintf("%.2f µs", float64(b.CPUPerDelivery.Nanoseconds())/1e3), fmt.Sprintf("server core %.0f%% busy", 100*b.Use.SrvUtil))
	out.add("generator CPU", fmt.Sprintf("%.0f%%", 100*b.Use.GenUtil), fmt.Sprintf("other processes on the server's core: %.0f%%", 100*b.Use.Others))
	if b.Use.Others > 0.1 {
		out.Invalid = append(out.Invalid, fmt.Sprintf("noisy: other processes took %.0f%% of the server's core", 100*b.Use.Others))
	}
	if b.Use.GenUtil > busy {
		out.Invalid = append(out.Invalid, fmt.Sprintf("generator saturated (%.0f%% of its core)", 100*b.Use.GenUtil))
	}
}

func rd(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 10*time.Microsecond:
		return d.Round(10 * time.Microsecond)
	}
	return d
}

// Churn runs fanout at a fixed rate, first alone, then while perSec
// clients of other users connect and disconnect every second (each one
// announced online and offline to everybody).
func (e *Env) Churn(cfg FanoutConfig, rate float64, perSec int) (*Result, error) {
	r, err := e.fanoutRig(cfg)
	if err != nil {
		return nil, err
	}
	defer r.close()
	// A churned user comes back only after the offline grace, so that each
	// connect is a real userOnline and each disconnect a real userOffline.
	lifetime := time.Second
	pool := perSec * 6
	users, err := e.signInAll(r.srv, "churn", pool)
	if err != nil {
		return nil, err
	}
	var (
		stop            = make(chan struct{})
		wg              sync.WaitGroup
		connects, fails atomic.Int64
		firstErr        atomic.Value
		connectTime     atomic.Int64
	)
	churn := func() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			type live struct {
				k  *Conn
				at time.Time
			}
			var mu sync.Mutex
			var q []live
			start := time.Now()
			for i := 0; ; {
				select {
				case <-stop:
					mu.Lock()
					for _, l := range q {
						r.c.CloseNormal(l.k)
					}
					mu.Unlock()
					return
				case <-time.After(5 * time.Millisecond):
				}
				mu.Lock()
				for len(q) > 0 && time.Since(q[0].at) >= lifetime {
					r.c.CloseNormal(q[0].k)
					q = q[1:]
				}
				mu.Unlock()
				// Open-loop: launch every connect that is due by now.
				due := int(time.Since(start).Seconds() * float64(perSec))
				for ; i < due; i++ {
					u := users[i%pool]
					go func() {
						t0 := time.Now()
						k, err := Connect(r.c, r.srv.Server, u, false, -1, "", "")
						if err != nil {
							fails.Add(1)
							firstErr.CompareAndSwap(nil, err.Error())
							return
						}
						connectTime.Add(int64(time.Since(t0)))
						connects.Add(1)
						mu.Lock()
						q = append(q, live{k, time.Now()})
						mu.Unlock()
					}()
				}
			}
		}()
	}
	steps := []Step{
		{Rate: rate, Dur: cfg.StepDur, Label: "alone"},
		{Rate: rate, Dur: cfg.StepDur, Label: "churn", Before: churn, After: func() { close(stop); wg.Wait() }},
	}
	res := r.load.run(steps, false)
	out := &Result{Scenario: "churn", Load: Load()}
	out.add("subscribers", strconv.Itoa(cfg.Subscribers), fmt.Sprintf("fanout at %.0f msg/s in, %d connects+disconnects/s of other users", rate, perSec))
	if len(res) == 2 {
		a, b := res[0], res[1]
		out.add("p99 alone → with churn", fmt.Sprintf("%v → %v", rd(a.P99), rd(b.P99)), fmt.Sprintf("p50 %v → %v", rd(a.P50), rd(b.P50)))
		if a.P99 > 0 {
			out.add("p99 with churn ÷ alone", fmt.Sprintf("%.2f×", float64(b.P99)/float64(a.P99)), "target ≤ 1.5× (the baseline is fan-out alone, same run)")
		}
		out.add("lost / out of order (churn step)", fmt.Sprintf("%d / %d", max(b.Lost(), 0), b.Disorder), "")
		n := connects.Load()
		note := ""
		if n > 0 {
			note = fmt.Sprintf("mean connect (upgrade+token) %v", rd(time.Duration(connectTime.Load()/n)))
		}
		out.add("churn connects", fmt.Sprintf("%d ok, %d failed (%.0f/s)", n, fails.Load(), float64(n)/b.Dur.Seconds()), note)
		out.add("server core busy alone → churn", fmt.Sprintf("%.0f%% → %.0f%%", 100*a.Use.SrvUtil, 100*b.Use.SrvUtil), "")
		out.add("generator CPU", fmt.Sprintf("%.0f%% / %.0f%%", 100*a.Use.GenUtil, 100*b.Use.GenUtil), "")
		if !b.OK() {
			out.Invalid = append(out.Invalid, "fanout not sustained under churn (see p99/loss)")
		}
		if max(a.Use.GenUtil, b.Use.GenUtil) > e.GenBusy {
			out.Invalid = append(out.Invalid, "generator saturated")
		}
		if v := firstErr.Load(); v != nil {
			out.add("first churn error", v.(string), "")
		}
	}
	return out, nil
}

// Slow runs fanout at a fixed rate, first with every subscriber reading,
// then with one that stops reading: the server's memory must stay bounded
// and the others' latency must not move.
func (e *Env) Slow(cfg FanoutConfig, rate float64, slowDur time.Duration) (*Result, error) {
	cfg.SmallLast = true
	r, err := e.fanoutRig(cfg)
	if err != nil {
		return nil, err
	}
	defer r.close()
	slow := r.subs[len(r.subs)-1]
	rss0, _ := RSS(r.srv.Pid())
	mc0, _ := Metrics(r.srv.Server)
	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if v, err := RSS(r.srv.Pid()); err == nil && v > peak.Load() {
					peak.Store(v)
				}
			}
		}
	}()
	steps := []Step{
		{Rate: rate, Dur: cfg.StepDur, Label: "all read"},
		{Rate: rate, Dur: slowDur, Label: "one slow", Before: func() {
			r.c.Pause(slow)
			// The paused member receives nothing more that we could count.
			for _, s := range r.load.senders {
				s.recip--
			}
		}},
	}
	res := r.load.run(steps, false)
	close(stop)
	wg.Wait()
	m, _ := Metrics(r.srv.Server)
	rss1, _ := RSS(r.srv.Pid())
	out := &Result{Scenario: "slow", Load: Load()}
	out.add("subscribers", strconv.Itoa(cfg.Subscribers), fmt.Sprintf("fanout at %.0f msg/s in; one member stops reading", rate))
	if len(res) == 2 {
		a, b := res[0], res[1]
		out.add("others' p99 all read → one slow", fmt.Sprintf("%v → %v", rd(a.P99), rd(b.P99)), fmt.Sprintf("p50 %v → %v", rd(a.P50), rd(b.P50)))
		out.add("others lost / out of order", fmt.Sprintf("%d / %d", max(b.Lost(), 0), b.Disorder), "")
		if !b.OK() {
			out.Invalid = append(out.Invalid, "others not sustained with a slow member")
		}
	}
	out.add("server RSS before / peak / after", fmt.Sprintf("%.1f / %.1f / %.1f MB", mb(rss0), mb(peak.Load()), mb(rss1)), "")
	out.add("slow consumers cut off", fmt.Sprintf("%.0f", m["chatr_slow_consumers_total"]), "queue past its limit (4,096 frames or 16 MiB): closed")
	note := "the silent member is still connected: its kernel buffers (up to 4 MiB) have not filled yet"
	if m["chatr_connections"] < mc0["chatr_connections"] {
		note = "the silent member was cut off (queue limit or the 10 s write deadline)"
	}
	out.add("server connections before / after", fmt.Sprintf("%.0f / %.0f", mc0["chatr_connections"], m["chatr_connections"]), note)
	return out, nil
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// RoomsConfig is the rooms scenario.
type RoomsConfig struct {
	Conns        int
	RoomSize     int
	ConnsPerUser int // must divide RoomSize
	Rates        []float64
	StepDur      time.Duration
	Size         int
	MinRound     time.Duration
}

// Rooms puts cfg.Conns connections in chats of cfg.RoomSize; every
// connection sends in turn at the open-loop rate.
func (e *Env) Rooms(cfg RoomsConfig) (*Result, []StepResult, error) {
	if cfg.RoomSize%cfg.ConnsPerUser != 0 || cfg.Conns%cfg.RoomSize != 0 {
		return nil, nil, fmt.Errorf("rooms: connections per user must divide the room size, and the room size the connections")
	}
	srv, err := StartServer(e.Server)
	if err != nil {
		return nil, nil, err
	}
	defer srv.Stop()
	nUsers := cfg.Conns / cfg.ConnsPerUser
	users, err := e.signInAll(srv, "room", nUsers)
	if err != nil {
		return nil, nil, err
	}
	c, err := NewClient(cfg.MinRound)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	conns := make([]*Conn, cfg.Conns)
	room := func(conn int) string { return "room" + strconv.Itoa(conn/cfg.RoomSize) }
	usersPerRoom := cfg.RoomSize / cfg.ConnsPerUser
	start := time.Now()
	connectUser := func(u int, create bool) error {
		first := u * cfg.ConnsPerUser
		cr := ""
		if create {
			cr = room(first)
		}
		k, err := Connect(c, srv.Server, users[u], false, first, cr, room(first))
		conns[first] = k
		return err
	}
	// Creators first, then the other members, then every user's other
	// connections (which join their chats' groups at connect).
	if err := parallel(nUsers/usersPerRoom, 16, func(i int) error { return connectUser(i*usersPerRoom, true) }); err != nil {
		return nil, nil, err
	}
	if usersPerRoom > 1 {
		if err := parallel(nUsers, 16, func(u int) error {
			if u%usersPerRoom == 0 {
				return nil
			}
			return connectUser(u, false)
		}); err != nil {
			return nil, nil, err
		}
	}
	if cfg.ConnsPerUser > 1 {
		if err := parallel(cfg.Conns, 32, func(i int) error {
			if i%cfg.ConnsPerUser == 0 {
				return nil
			}
			k, err := Connect(c, srv.Server, users[i/cfg.ConnsPerUser], false, i, "", "")
			conns[i] = k
			return err
		}); err != nil {
			return nil, nil, err
		}
	}
	e.logf("%d connections in %d rooms in %v", cfg.Conns, cfg.Conns/cfg.RoomSize, time.Since(start).Round(time.Millisecond))
	c.Quiet(time.Second, 120*time.Second)
	l := &load{env: e, c: c, srv: srv, size: cfg.Size}
	for _, i := range rand.Perm(cfg.Conns) {
		l.senders = append(l.senders, &sender{k: conns[i], group: room(i), index: i % cfg.RoomSize, recip: cfg.RoomSize})
	}
	var steps []Step
	for _, rate := range cfg.Rates {
		steps = append(steps, Step{Rate: rate, Dur: cfg.StepDur, Label: "rooms"})
	}
	res := l.run(steps, true)
	out := &Result{Scenario: "rooms", Load: Load()}
	out.add("connections", strconv.Itoa(cfg.Conns), fmt.Sprintf("chats of %d, %d users × %d connections, every connection sends in turn", cfg.RoomSize, nUsers, cfg.ConnsPerUser))
	best := -1
	for i := range res {
		if res[i].OK() {
			best = i
		}
	}
	if best < 0 {
		out.Invalid = append(out.Invalid, "no rate was sustained")
		best = 0
	}
	if len(res) > 0 {
		b := res[best]
		stepFigures(out, &b, e.GenBusy)
	}
	return out, res, nil
}

// IdleConfig is the idle scenario.
type IdleConfig struct {
	Conns        int
	ConnsPerUser int
	Reliable     bool
}

// Idle opens cfg.Conns connections joined to a chat and measures what each
// costs the server at rest, and how fast they were opened.
func (e *Env) Idle(cfg IdleConfig) (*Result, error) {
	srv, err := StartServer(e.Server)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	nUsers := (cfg.Conns + cfg.ConnsPerUser - 1) / cfg.ConnsPerUser
	users, err := e.signInAll(srv, "idle", nUsers)
	if err != nil {
		return nil, err
	}
	c, err := NewClient(time.Millisecond)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	// The chat exists and every user is a member before measuring starts.
	setup, err := Connect(c, srv.Server, users[0], false, -1, "idle", "idle")
	if err != nil {
		return nil, err
	}
	if err := parallel(nUsers-1, 16, func(i int) error {
		k, err := Connect(c, srv.Server, users[i+1], false, -1, "", "idle")
		if err == nil {
			c.CloseNormal(k)
		}
		return err
	}); err != nil {
		return nil, err
	}
	c.CloseNormal(setup)
	time.Sleep(4 * time.Second) // offline grace: the setup sockets' sessions end
	c.Quiet(500*time.Millisecond, 30*time.Second)
	srv.GC()
	m0, _ := Metrics(srv.Server)
	rss0, _ := RSS(srv.Pid())
	connected0 := c.Connected()

	start := time.Now()
	use := startUsage(srv.Pid())
	waitProfile := e.profile(srv, "idle-connect", 4*time.Second)
	defer waitProfile()
	var dialed atomic.Int64
	err = parallel(cfg.Conns, 64, func(i int) error {
		_, err := Connect(c, srv.Server, users[i%nUsers], cfg.Reliable, i, "", "")
		if err == nil {
			dialed.Add(1)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	for c.Connected()-connected0 < int64(cfg.Conns) && time.Since(start) < time.Minute {
		time.Sleep(time.Millisecond)
	}
	d := time.Since(start)
	use.stop()
	e.logf("%d connections in %v (%.0f/s), server %.0f%%, generator %.0f%%", cfg.Conns, d.Round(time.Millisecond), float64(cfg.Conns)/d.Seconds(), 100*use.SrvUtil, 100*use.GenUtil)
	c.Quiet(time.Second, 60*time.Second)
	time.Sleep(time.Second)
	srv.GC()
	time.Sleep(time.Second)
	m1, _ := Metrics(srv.Server)
	rss1, _ := RSS(srv.Pid())
	if e.ProfileDir != "" {
		if resp, err := http.Get("http://" + srv.Pprof + "/debug/pprof/heap"); err == nil {
			if f, err := os.Create(filepath.Join(e.ProfileDir, "idle-heap.prof")); err == nil {
				io.Copy(f, resp.Body)
				f.Close()
			}
			resp.Body.Close()
		}
	}
	n := float64(cfg.Conns)
	per := func(k string) float64 { return (m1[k] - m0[k]) / n }
	out := &Result{Scenario: "idle", Load: Load()}
	proto := "json"
	if cfg.Reliable {
		proto = "json.reliable"
	}
	out.add("connections", strconv.Itoa(cfg.Conns), fmt.Sprintf("%s, %d users × %d connections, each in one chat", proto, nUsers, cfg.ConnsPerUser))
	out.add("RSS per connection", fmt.Sprintf("%.2f KB", float64(rss1-rss0)/n/1000), fmt.Sprintf("RSS %.1f → %.1f MB", mb(rss0), mb(rss1)))
	out.add("live Go heap per connection", fmt.Sprintf("%.2f KB", per("go_memstats_heap_alloc_bytes")/1000), "after a GC")
	out.add("Go heap in use per connection", fmt.Sprintf("%.2f KB", per("go_memstats_heap_inuse_bytes")/1000), "")
	out.add("goroutine stacks per connection", fmt.Sprintf("%.2f KB", per("go_memstats_stack_inuse_bytes")/1000), "")
	out.add("goroutines per connection", fmt.Sprintf("%.2f", per("go_goroutines")), fmt.Sprintf("%.0f → %.0f", m0["go_goroutines"], m1["go_goroutines"]))
	out.add("new authenticated connections/s", fmt.Sprintf("%.0f", n/d.Seconds()), fmt.Sprintf("upgrade + token + Connect hook (store) + connected frame; 64 dialers; server core %.0f%% busy", 100*use.SrvUtil))
	out.add("generator CPU while connecting", fmt.Sprintf("%.0f%%", 100*use.GenUtil), "")
	if use.GenUtil > e.GenBusy {
		out.Invalid = append(out.Invalid, "generator saturated while connecting: the connect rate is a lower bound")
	}
	return out, nil
}

// Table formats results as a plain-text table.
func Table(results []*Result) string {
	var b strings.Builder
	w := 0
	for _, r := range results {
		for _, f := range r.Figures {
			w = max(w, len(f.Name))
		}
	}
	for _, r := range results {
		fmt.Fprintf(&b, "== %s (load %s)\n", r.Scenario, r.Load)
		for _, f := range r.Figures {
			fmt.Fprintf(&b, "  %-*s  %-24s %s\n", w, f.Name, f.Value, f.Note)
		}
		for _, why := range r.Invalid {
			fmt.Fprintf(&b, "  INVALID: %s\n", why)
		}
	}
	return b.String()
}

// serverView summarises the server's own histograms over a step: mean
// storage and fan-out times, and store reads per message sent.
func serverView(m0, m1 map[string]float64, sent int64) string {
	mean := func(name, label string) time.Duration {
		n := m1[name+"_count"+label] - m0[name+"_count"+label]
		if n <= 0 {
			return 0
		}
		return time.Duration((m1[name+"_sum"+label] - m0[name+"_sum"+label]) / n * 1e9)
	}
	per := func(label string) float64 {
		if sent == 0 {
			return 0
		}
		k := "chatr_storage_seconds_count" + label
		return (m1[k] - m0[k]) / float64(sent)
	}
	slowAdds := func() float64 { // AddMessage calls over 30 ms
		k := `chatr_storage_seconds_bucket{op="AddMessage",le="0.030517578125"}`
		n := `chatr_storage_seconds_count{op="AddMessage"}`
		return (m1[n] - m0[n]) - (m1[k] - m0[k])
	}
	return fmt.Sprintf("AddMessage mean %v (%.0f over 30 ms), fan-out mean %v, IsMember %.2f and GetUser %.2f per message",
		rd(mean("chatr_storage_seconds", `{op="AddMessage"}`)), slowAdds(), rd(mean("chatr_fanout_seconds", "")),
		per(`{op="IsMember"}`), per(`{op="GetUser"}`))
}
