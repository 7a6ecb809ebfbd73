package bench

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ReconnectConfig is the reconnect storm: Users connected users, each a
// member of ChatsPerUser chats of ChatSize members, and then the server
// restarts under them.
type ReconnectConfig struct {
	StormConfig
	Users, ChatsPerUser, ChatSize int
	// Dialers is how many clients reconnect at the same moment.
	Dialers int
}

// membership is who is in which chat.
type membership struct {
	chatsOf  [][]string // user → its chats
	creator  map[string]int
	partners [][]string // user → the user ids it shows: its chats' members, itself included
}

// plan puts every user in ChatsPerUser chats: layer l groups the users of a
// fixed shuffle in runs of ChatSize, so that each layer gives a user
// different partners. A chat's first member creates it.
func (cfg ReconnectConfig) plan(users []User) *membership {
	n := len(users)
	m := &membership{chatsOf: make([][]string, n), creator: map[string]int{}, partners: make([][]string, n)}
	members := map[string][]int{}
	for l := range cfg.ChatsPerUser {
		perm := rand.New(rand.NewPCG(7, uint64(l))).Perm(n)
		for pos, u := range perm {
			id := "re" + strconv.Itoa(l) + "-" + strconv.Itoa(pos/cfg.ChatSize)
			m.chatsOf[u] = append(m.chatsOf[u], id)
			if _, ok := m.creator[id]; !ok {
				m.creator[id] = u
			}
			members[id] = append(members[id], u)
		}
	}
	for u := range n {
		seen := map[int]bool{}
		for _, id := range m.chatsOf[u] {
			for _, p := range members[id] {
				if !seen[p] {
					seen[p] = true
					m.partners[u] = append(m.partners[u], users[p].ID)
				}
			}
		}
	}
	return m
}

// session opens a connection for u, sends events one after another (each
// waiting for its ack) and closes it.
func session(s Server, u User, events [][2]any) error {
	nc, rest, err := Dial(s, s.clientPath(u), ProtoJSON, 0)
	if err != nil {
		return err
	}
	defer nc.Close()
	for _, ev := range events {
		if rest, err = event(nc, rest, ev[0].(string), ev[1]); err != nil {
			return err
		}
	}
	return nil
}

// connectWatched opens a connection for u whose poller state tracks the
// presence it is shown; it is handed to the poller at once.
func connectWatched(c *Client, s Server, u User, index int, w *Watch) (*Conn, error) {
	nc, rest, err := Dial(s, s.clientPath(u), ProtoJSON, 0)
	if err != nil {
		return nil, err
	}
	fd, err := detach(nc)
	if err != nil {
		return nil, err
	}
	k := &Conn{fd: fd, Index: index, watch: w}
	c.Add(k, rest)
	return k, nil
}

// Reconnect prepares the membership, connects every user, restarts the
// server (SIGTERM, then the same port and database) and measures how long
// until every client is back: reconnected, its chats re-joined with
// joinChat (as the browser does after a fresh connection) and shown online
// every member of its chats (a userOnline frame naming them, in any form,
// on the new connection; its own user included).
func (e *Env) Reconnect(cfg ReconnectConfig) (*Result, error) {
	srv, err := StartServer(e.Server)
	if err != nil {
		return nil, err
	}
	firstDir := srv.dir
	defer func() { srv.Stop(); removeAll(firstDir) }()
	n := cfg.Users
	users, err := e.signInAll(srv, "recon", n)
	if err != nil {
		return nil, err
	}
	m := cfg.plan(users)
	t := time.Now()
	// Few connections are open while the membership is prepared, so that
	// its announcements reach few.
	if err := parallel(n, 32, func(u int) error {
		var evs [][2]any
		for _, id := range m.chatsOf[u] {
			if m.creator[id] == u {
				evs = append(evs, [2]any{"createChat", map[string]string{"name": id, "id": id}})
			}
		}
		if len(evs) == 0 {
			return nil
		}
		return session(srv.Server, users[u], evs)
	}); err != nil {
		return nil, fmt.Errorf("create chats: %w", err)
	}
	if err := parallel(n, 32, func(u int) error {
		var evs [][2]any
		for _, id := range m.chatsOf[u] {
			evs = append(evs, [2]any{"joinChat", id})
		}
		return session(srv.Server, users[u], evs)
	}); err != nil {
		return nil, fmt.Errorf("join chats: %w", err)
	}
	e.logf("%d users joined %d chats each (of %d members) in %v", n, cfg.ChatsPerUser, cfg.ChatSize, rd(time.Since(t)))
	time.Sleep(4 * time.Second) // the offline grace of the preparation's sessions

	c, err := NewClient(cfg.MinRound)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	out := &Result{Scenario: "reconnect"}
	out.add("users", strconv.Itoa(n), fmt.Sprintf("one connection each, %d chats of %d per user, %d partners shown per user on average", cfg.ChatsPerUser, cfg.ChatSize, avgLen(m.partners)))

	// Steady state: everyone connected, nothing moving.
	conns := make([]*Conn, n)
	conn0, f0 := c.Connected(), c.Snapshot().Frames
	t = time.Now()
	if err := parallel(n, 64, func(u int) error {
		k, err := Connect(c, srv.Server, users[u], false, u, "", "")
		conns[u] = k
		return err
	}); err != nil {
		return nil, err
	}
	// The first connect is preparation: today it is itself a storm (every
	// user announced to everyone), so it gets a longer bound.
	prep := cfg
	prep.Timeout *= 4
	if ok, why := prep.waitUntil(srv.Pid(), func() bool { return c.Connected()-conn0 >= int64(n) }); !ok {
		return nil, fmt.Errorf("first connect: %s", why)
	}
	firstConnect := time.Since(t)
	c.Quiet(time.Second, prep.Timeout)
	firstFrames := c.Snapshot().Frames - f0
	time.Sleep(time.Second)
	rssRest, _ := RSS(srv.Pid())
	srv.GC()
	time.Sleep(time.Second)
	rssGC, _ := RSS(srv.Pid())
	mrest, _ := Metrics(srv.Server)
	liveRest := int64(mrest["go_memstats_heap_inuse_bytes"] + mrest["go_memstats_stack_inuse_bytes"])
	e.logf("%d connected in %v (%d frames); RSS at rest %.1f MB, after a GC %.1f MB", n, rd(firstConnect), firstFrames, mb(rssRest), mb(rssGC))
	out.add("first connect, before the restart", rd(firstConnect).String(), fmt.Sprintf("%d frames to clients (%.1f per connection)", firstFrames, float64(firstFrames)/float64(n)))

	// The restart.
	s0 := c.Snapshot()
	t0 := time.Now()
	stopped := srv.Terminate(10 * time.Second)
	opts := e.Server
	opts.DB, opts.Port = srv.DB(), srv.Port
	var (
		next     = make([]*Conn, n)
		dialFail atomic.Int64
		wg       sync.WaitGroup
		quit     = make(chan struct{})
	)
	deadline := t0.Add(cfg.Timeout)
	watches := make([]*Watch, n)
	for u := range n {
		watches[u] = NewWatch(m.partners[u])
	}
	var idx atomic.Int64
	for range max(cfg.Dialers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				u := int(idx.Add(1) - 1)
				if u >= n {
					return
				}
				// A client reconnects once it has seen its socket close.
				for !c.Closed(conns[u]) && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				for time.Now().Before(deadline) {
					select {
					case <-quit:
						return
					default:
					}
					k, err := connectWatched(c, opts.server(), users[u], u, watches[u])
					if err != nil {
						dialFail.Add(1)
						time.Sleep(time.Duration(100+rand.IntN(200)) * time.Millisecond)
						continue
					}
					for _, id := range m.chatsOf[u] {
						k.Event("joinChat", id)
					}
					next[u] = k
					break
				}
			}
		}()
	}
	srv2, err := StartServer(opts)
	if err != nil {
		close(quit)
		wg.Wait()
		return nil, fmt.Errorf("restart: %w", err)
	}
	srv = srv2 // stopped by the deferred Stop
	ready := time.Since(t0)
	use := startUsage(srv.Pid())
	peak := watchRSS(srv.Pid())
	profiled := e.profile(srv, "reconnect", 21*time.Second)
	var tConn, tJoin, tPres time.Duration
	var last []ConnState
	done, why := cfg.waitUntil(srv.Pid(), func() bool {
		last = c.States(next)
		var nc, nj, np int
		for u, s := range last {
			if s.Connected {
				nc++
			}
			if s.Acks >= len(m.chatsOf[u]) && s.AckErrors == 0 {
				nj++
			}
			if s.PresenceLeft == 0 {
				np++
			}
		}
		el := time.Since(t0)
		if tConn == 0 && nc == n {
			tConn = el
		}
		if tJoin == 0 && nj == n {
			tJoin = el
		}
		if tPres == 0 && np == n {
			tPres = el
		}
		return tConn > 0 && tJoin > 0 && tPres > 0
	})
	total := time.Since(t0)
	close(quit)
	wg.Wait()
	profiled()
	c.Quiet(500*time.Millisecond, cfg.Timeout)
	use.stop()
	rssPeak := peak()
	rssAfter, _ := RSS(srv.Pid())
	s1 := c.Snapshot()
	events := map[string]uint64{}
	for k, v := range s1.Events {
		if d := v - s0.Events[k]; d > 0 {
			events[k] = d
		}
	}
	var nc, nj, np, ackErr, shown, want int
	for u, s := range last {
		if s.Connected {
			nc++
		}
		if s.Acks >= len(m.chatsOf[u]) && s.AckErrors == 0 {
			nj++
		}
		ackErr += s.AckErrors
		if s.PresenceLeft == 0 {
			np++
		}
		if s.PresenceLeft >= 0 {
			want += len(m.partners[u])
			shown += len(m.partners[u]) - s.PresenceLeft
		}
	}
	out.Load = Load()
	when := func(d time.Duration, got int) string {
		if d > 0 {
			return fmt.Sprintf("%v (%v after ready)", rd(d), rd(d-ready))
		}
		return fmt.Sprintf("not within %v: %d of %d", rd(total), got, n)
	}
	out.add("server stopped / ready again", fmt.Sprintf("%v / %v", rd(stopped), rd(ready)), "after SIGTERM; the new process has the same port and database")
	out.add("all reconnected", when(tConn, nc), fmt.Sprintf("%d dials refused or failed on the way; %d reconnecting at once", dialFail.Load(), cfg.Dialers))
	out.add("all re-joined (joinChat acked)", when(tJoin, nj), ackNote(ackErr, s1.AckError))
	out.add("all shown their partners online", when(tPres, np), fmt.Sprintf("%.1f%% of the expected (client, partner) pairs were shown", 100*float64(shown)/float64(max(want, 1))))
	if !done {
		out.Invalid = append(out.Invalid, "reconnect storm did not complete: "+why)
	}
	out.add("frames to clients", strconv.FormatUint(s1.Frames-s0.Frames, 10), fmt.Sprintf("%.1f per client: %s", float64(s1.Frames-s0.Frames)/float64(n), eventList(events)))
	out.add("server CPU (new process)", rd(use.Srv).String(), fmt.Sprintf("core %.0f%% busy; other processes on its core %.0f%%, generator %.0f%%", 100*use.SrvUtil, 100*use.Others, 100*use.GenUtil))
	out.add("RSS steady → peak → after", fmt.Sprintf("%.1f → %.1f → %.1f MB", mb(rssRest), mb(rssPeak), mb(rssAfter)), fmt.Sprintf("steady: the old process at rest (%.1f MB after a GC)", mb(rssGC)))
	out.add("peak ÷ steady RSS", fmt.Sprintf("%.2f×", float64(rssPeak)/float64(max(rssRest, 1))), "target ≤ 2×; the steady RSS keeps what the first connect left behind")
	out.add("Go heap in use + stacks at rest", fmt.Sprintf("%.1f MB", mb(liveRest)), fmt.Sprintf("old process, after a GC; peak RSS ÷ this: %.2f×", float64(rssPeak)/float64(max(liveRest, 1))))
	if use.Others > 0.1 {
		out.Invalid = append(out.Invalid, fmt.Sprintf("noisy: other processes took %.0f%% of the server's core", 100*use.Others))
	}

	srv.Stop()
	removeAll(firstDir)
	b, err := e.AckBaseline(AckBaselineConfig{Self: cfg.Self, Core: cfg.Core, N: n, PerConn: cfg.ChatsPerUser, Timeout: cfg.Timeout, MinRound: cfg.MinRound})
	if err != nil {
		out.Invalid = append(out.Invalid, err.Error())
	}
	if b != nil && b.Answer > 0 {
		base := b.Connect + b.Answer
		out.add("request baseline", rd(base).String(), fmt.Sprintf("raw TCP, same client: %d connects (64 at a time) then %d requests each, one ack write per request", n, cfg.ChatsPerUser))
		if tJoin > 0 {
			out.add("  re-joined after ready ÷ baseline", fmt.Sprintf("%.1f×", float64(tJoin-ready)/float64(base)), "")
		}
	}
	return out, nil
}

func avgLen(l [][]string) int {
	t := 0
	for _, x := range l {
		t += len(x)
	}
	return t / max(len(l), 1)
}

func ackNote(n int, last string) string {
	if n == 0 {
		return "no joinChat ack was an error"
	}
	return fmt.Sprintf("%d joinChat acks were errors, the last: %s", n, last)
}
