package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/chatr/chatr/internal/wsclient"
)

// soakSettings reads CHATR_SOAK_DURATION (default 30s) and
// CHATR_SOAK_CONNS (default 1500).
func soakSettings(t *testing.T) (time.Duration, int) {
	d, conns := 30*time.Second, 1500
	if s := os.Getenv("CHATR_SOAK_DURATION"); s != "" {
		v, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("CHATR_SOAK_DURATION=%q: %v", s, err)
		}
		d = v
	}
	if s := os.Getenv("CHATR_SOAK_CONNS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 10 {
			t.Fatalf("CHATR_SOAK_CONNS=%q", s)
		}
		conns = v
	}
	return d, conns
}

// lightConn is a socket that costs the test little: one reader goroutine
// that drops everything but acks.
type lightConn struct {
	nc      net.Conn
	wmu     sync.Mutex
	next    atomic.Uint64
	done    chan struct{}
	closing atomic.Bool // the test is closing it
}

// serverClosed counts sockets the server ended while the test still used
// them, by close code (0: no close frame).
var serverClosed struct {
	sync.Mutex
	codes map[int]int
}

type lockedW struct{ c *lightConn }

func (w lockedW) Write(p []byte) (int, error) {
	w.c.wmu.Lock()
	defer w.c.wmu.Unlock()
	return w.c.nc.Write(p)
}

func dialLight(tokenURL, protocol string, onAck func(id uint64, ok bool)) (*lightConn, error) {
	d := ws.Dialer{Protocols: []string{protocol}, Timeout: 10 * time.Second}
	nc, br, _, err := d.Dial(context.Background(), tokenURL)
	if err != nil {
		return nil, err
	}
	c := &lightConn{nc: nc, done: make(chan struct{})}
	var r io.Reader = nc
	if br != nil {
		r = io.MultiReader(br, nc)
	}
	rw := struct {
		io.Reader
		io.Writer
	}{r, lockedW{c}}
	go func() {
		defer close(c.done)
		for {
			b, op, err := wsutil.ReadServerData(rw)
			if err != nil {
				if !c.closing.Load() {
					code := 0
					var ce wsutil.ClosedError
					if errors.As(err, &ce) {
						code = int(ce.Code)
					}
					serverClosed.Lock()
					if serverClosed.codes == nil {
						serverClosed.codes = map[int]int{}
					}
					serverClosed.codes[code]++
					serverClosed.Unlock()
				}
				return
			}
			// On the reliable protocol, acknowledge every 100 messages as
			// the SDK does (every 300 or each second); an unacked buffer
			// past 1000 messages is closed with 1008.
			if rest, ok := bytes.CutPrefix(b, []byte(`{"sequenceId":`)); ok && op == ws.OpText {
				if i := bytes.IndexByte(rest, ','); i > 0 {
					if seq, err := strconv.ParseUint(string(rest[:i]), 10, 64); err == nil && seq%100 == 0 {
						ack, _ := json.Marshal(map[string]any{"type": "sequenceAck", "sequenceId": seq})
						c.wmu.Lock()
						wsutil.WriteClientMessage(c.nc, ws.OpText, ack)
						c.wmu.Unlock()
					}
				}
				continue
			}
			if op == ws.OpText && onAck != nil && bytes.HasPrefix(b, []byte(`{"type":"ack"`)) {
				var a struct {
					AckID   uint64
					Success bool
				}
				if json.Unmarshal(b, &a) == nil {
					onAck(a.AckID, a.Success)
				}
			}
		}
	}()
	return c, nil
}

func (c *lightConn) send(v map[string]any) error {
	b, _ := json.Marshal(v)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return wsutil.WriteClientMessage(c.nc, ws.OpText, b)
}

// close ends the socket cleanly (close frame) or drops it.
func (c *lightConn) close(clean bool) {
	c.closing.Store(true)
	if clean {
		c.wmu.Lock()
		c.nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
		ws.WriteFrame(c.nc, ws.MaskFrameInPlace(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
		c.wmu.Unlock()
		select {
		case <-c.done:
		case <-time.After(2 * time.Second):
		}
	}
	c.nc.Close()
	<-c.done
}

// metricValue reads one sample of /metrics.
func metricValue(t *testing.T, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// resources are a process's figures from /metrics and /proc.
type resources struct {
	goroutines, fds, heapInuse, connections, sessions, rssKB float64
}

func (r resources) String() string {
	return fmt.Sprintf("goroutines %.0f, open fds %.0f, heap in use %.1f MiB, RSS %.1f MiB, hub connections %.0f, sessions %.0f",
		r.goroutines, r.fds, r.heapInuse/(1<<20), r.rssKB/1024, r.connections, r.sessions)
}

func measure(t *testing.T, base string, pid int) resources {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	var r resources
	want := map[string]*float64{"go_goroutines": &r.goroutines, "process_open_fds": &r.fds,
		"go_memstats_heap_inuse_bytes": &r.heapInuse, "chatr_connections": &r.connections, "chatr_sessions": &r.sessions}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if p, hit := want[name]; ok && hit {
			*p, _ = strconv.ParseFloat(val, 64)
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				r.rssKB, _ = strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			}
		}
	}
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil && r.fds == 0 {
		r.fds = float64(len(ents))
	}
	return r
}

// TestSoak holds thousands of sockets on the real binary with churn
// (clean closes and drops, both protocols) and steady chat traffic, then
// closes everything: no acknowledged message may be lost, and the
// server's goroutines, file descriptors and heap must return to their
// baseline. CHATR_SOAK_DURATION and CHATR_SOAK_CONNS make it longer or
// bigger (make soak).
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for a while with thousands of sockets")
	}
	duration, target := soakSettings(t)
	port := freePort(t)
	p := startProcess(t, filepath.Join(t.TempDir(), "chatr.db"), port, append(unlimited,
		"--connections-per-user", "1000000", "--recovery-window", "2s")...)
	pid := p.Cmd.Process.Pid

	// Users and chats.
	const nUsers, nChats = 60, 8
	users := make([]*client, nUsers)
	tokens := make([]string, nUsers)
	for i := range users {
		users[i] = guest(t, p.Base, fmt.Sprintf("user%d", i))
		tokens[i], _ = users[i].Token()
	}
	setup := users[0].Connect(wsclient.JSON)
	for c := 0; c < nChats; c++ {
		mustAck(t, setup, "createChat", map[string]string{"name": fmt.Sprintf("chat %d", c), "id": fmt.Sprintf("chat%d", c)})
	}
	setup.Close()
	for i, u := range users {
		c := u.Connect(wsclient.JSON)
		mustAck(t, c, "joinChat", fmt.Sprintf("chat%d", i%nChats))
		mustAck(t, c, "joinChat", fmt.Sprintf("chat%d", (i+3)%nChats))
		c.Close()
	}
	time.Sleep(500 * time.Millisecond)
	baseline := measure(t, p.Base, pid)
	t.Logf("baseline: %v", baseline)

	// Senders: one steady socket per user of the first 20, each writing
	// to its own first chat; every acked message must be stored.
	var (
		amu   sync.Mutex
		acked = map[string]string{} // text -> chat
		sent  atomic.Int64
	)
	type sender struct {
		c       *lightConn
		chat    string
		mu      sync.Mutex
		pending map[uint64]string
	}
	var senders []*sender
	for i := 0; i < 20; i++ {
		s := &sender{chat: fmt.Sprintf("chat%d", i%nChats), pending: map[uint64]string{}}
		c, err := dialLight(tokens[i], wsclient.JSON, func(id uint64, ok bool) {
			s.mu.Lock()
			text, hit := s.pending[id]
			delete(s.pending, id)
			s.mu.Unlock()
			if hit && ok {
				amu.Lock()
				acked[text] = s.chat
				amu.Unlock()
			}
		})
		if err != nil {
			t.Fatalf("sender %d: %v", i, err)
		}
		s.c = c
		senders = append(senders, s)
	}

	// The crowd: target sockets spread over the users, a third of them
	// on the reliable protocol.
	var (
		cmu        sync.Mutex
		crowd      []*lightConn
		dialErrors atomic.Int64
		opened     atomic.Int64
	)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	var rmu sync.Mutex
	randN := func(n int) int { rmu.Lock(); defer rmu.Unlock(); return rng.IntN(n) }
	openOne := func() {
		u := randN(nUsers)
		proto := wsclient.JSON
		if randN(3) == 0 {
			proto = wsclient.Reliable
		}
		c, err := dialLight(tokens[u], proto, nil)
		if err != nil {
			if dialErrors.Add(1) <= 5 {
				t.Logf("dial: %v", err)
			}
			return
		}
		opened.Add(1)
		cmu.Lock()
		crowd = append(crowd, c)
		cmu.Unlock()
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := 0; i < target; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() { defer wg.Done(); defer func() { <-sem }(); openOne() }()
	}
	wg.Wait()
	peak := measure(t, p.Base, pid)
	t.Logf("with %d sockets: %v", len(crowd)+len(senders), peak)

	// Traffic and churn until the duration is up.
	stop := make(chan struct{})
	var traffic sync.WaitGroup
	for i, s := range senders {
		traffic.Add(1)
		go func() {
			defer traffic.Done()
			tick := time.NewTicker(400 * time.Millisecond)
			defer tick.Stop()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				id := s.c.next.Add(1)
				text := fmt.Sprintf("s%d-%d", i, n)
				s.mu.Lock()
				s.pending[id] = text
				s.mu.Unlock()
				frame := send(s.chat, text)
				frame["ackId"] = id
				if s.c.send(frame) != nil {
					return
				}
				sent.Add(1)
			}
		}()
	}
	churned := 0
	deadline := time.Now().Add(duration)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		cmu.Lock()
		var victims []*lightConn
		for k := 0; k < 10 && len(crowd) > 0; k++ {
			i := randN(len(crowd))
			victims = append(victims, crowd[i])
			crowd[i] = crowd[len(crowd)-1]
			crowd = crowd[:len(crowd)-1]
		}
		cmu.Unlock()
		for k, v := range victims {
			wg.Add(1)
			go func() { defer wg.Done(); v.close(k%2 == 0) }()
			wg.Add(1)
			go func() { defer wg.Done(); openOne() }()
		}
		churned += len(victims)
	}
	wg.Wait()
	close(stop)
	traffic.Wait()
	time.Sleep(time.Second) // the last acks
	during := measure(t, p.Base, pid)
	t.Logf("after %v of churn (%d sockets replaced, %d opened in all, %d dial errors): %v; slow consumers cut off: %v",
		duration, churned, opened.Load(), dialErrors.Load(), during, metricValue(t, p.Base, "chatr_slow_consumers_total"))
	serverClosed.Lock()
	if len(serverClosed.codes) > 0 {
		t.Errorf("the server closed healthy sockets (close code: count): %v", serverClosed.codes)
	}
	serverClosed.Unlock()

	// Close everything, half cleanly, half dropped.
	for i, c := range crowd {
		wg.Add(1)
		sem <- struct{}{}
		go func() { defer wg.Done(); defer func() { <-sem }(); c.close(i%2 == 0) }()
	}
	for _, s := range senders {
		wg.Add(1)
		go func() { defer wg.Done(); s.c.close(true) }()
	}
	wg.Wait()

	if n := dialErrors.Load(); n > 0 {
		t.Errorf("%d of %d sockets could not be opened", n, opened.Load()+n)
	}
	// No acknowledged message is lost or doubled.
	amu.Lock()
	nAcked := len(acked)
	seenAll := 0
	for c := 0; c < nChats; c++ {
		chat := fmt.Sprintf("chat%d", c)
		seen := map[string]int{}
		for _, m := range users[c].History(chat) {
			seen[m.Message]++
			seenAll++
		}
		for text, k := range seen {
			if k != 1 {
				t.Errorf("%s: %q stored %d times", chat, text, k)
			}
		}
		for text, in := range acked {
			if in == chat && seen[text] != 1 {
				t.Errorf("%s: acked %q stored %d times", chat, text, seen[text])
			}
		}
	}
	amu.Unlock()
	if nAcked == 0 || int64(nAcked) < sent.Load()*9/10 {
		t.Errorf("%d of %d messages acked", nAcked, sent.Load())
	}

	// Resources return to the baseline once the recovery window (2 s) and
	// the offline grace are over. Allocation from scrapes and history reads
	// lets the collector run.
	var end resources
	settle := time.Now().Add(60 * time.Second)
	for {
		for i := 0; i < 20; i++ {
			users[0].History("chat0")
		}
		end = measure(t, p.Base, pid)
		ok := end.goroutines <= baseline.goroutines+5 && end.fds <= baseline.fds+5 &&
			end.heapInuse <= max(2*baseline.heapInuse, baseline.heapInuse+32<<20) && end.connections == 0 && end.sessions == 0
		if ok {
			break
		}
		if time.Now().After(settle) {
			t.Errorf("resources did not return to the baseline within 60 s:\n  baseline %v\n  now      %v", baseline, end)
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("after closing everything: %v", end)
	t.Logf("soak: %d sockets held, %d replaced by churn over %v; %d messages sent, %d acked, %d stored",
		target+len(senders), churned, duration, sent.Load(), nAcked, seenAll)
}
