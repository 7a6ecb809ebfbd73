package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// User is a guest signed in over HTTP, with a hub access token.
type User struct {
	ID    string
	Token string // query string part: access_token=...
}

var httpClient = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second},
}

// SignIn signs a guest in and gets a hub access token, as the browser does:
// POST /.auth/login/guest, then GET /api/getToken with the session cookie.
func SignIn(s Server, name string) (User, error) {
	base := "http://" + s.host()
	body, _ := json.Marshal(map[string]string{"name": name})
	resp, err := httpClient.Post(base+"/.auth/login/guest", "application/json", bytes.NewReader(body))
	if err != nil {
		return User{}, err
	}
	var me struct {
		ClientPrincipal struct{ UserID string }
	}
	err = json.NewDecoder(resp.Body).Decode(&me)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || err != nil {
		return User{}, fmt.Errorf("sign-in: status %d (%v)", resp.StatusCode, err)
	}
	req, _ := http.NewRequest("GET", base+"/api/getToken", nil)
	for _, c := range resp.Cookies() {
		req.AddCookie(c)
	}
	resp, err = httpClient.Do(req)
	if err != nil {
		return User{}, err
	}
	var tok struct{ Token string }
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != 200 || err != nil || tok.Token == "" {
		return User{}, fmt.Errorf("getToken: status %d (%v)", resp.StatusCode, err)
	}
	return User{ID: me.ClientPrincipal.UserID, Token: "access_token=" + url.QueryEscape(tok.Token)}, nil
}

// SignInMany signs in n guests with conc requests at a time.
func SignInMany(s Server, prefix string, n, conc int) ([]User, time.Duration, error) {
	users := make([]User, n)
	start := time.Now()
	err := parallel(n, conc, func(i int) error {
		u, err := SignIn(s, prefix+strconv.Itoa(i))
		users[i] = u
		return err
	})
	return users, time.Since(start), err
}

// Protocols.
const (
	ProtoJSON     = "json.webpubsub.azure.v1"
	ProtoReliable = "json.reliable.webpubsub.azure.v1"
)

var ackIDs atomic.Uint64

// Connect opens a connection for u. With join != "", it joins that chat
// (createChat first when create is set) and waits for the acks before the
// socket goes to the poller; otherwise it is handed over at once.
func Connect(c *Client, s Server, u User, reliable bool, index int, create, join string) (*Conn, error) {
	return ConnectBuf(c, s, u, reliable, index, create, join, 0)
}

// ConnectBuf is Connect with the socket's receive buffer set to rcvBuf
// bytes (0: the kernel's default).
func ConnectBuf(c *Client, s Server, u User, reliable bool, index int, create, join string, rcvBuf int) (*Conn, error) {
	proto := ProtoJSON
	if reliable {
		proto = ProtoReliable
	}
	nc, rest, err := Dial(s, s.clientPath(u), proto, rcvBuf)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Conn, error) {
		nc.Close()
		return nil, err
	}
	if create != "" {
		if rest, err = event(nc, rest, "createChat", map[string]string{"name": create, "id": create}); err != nil {
			return fail(err)
		}
	}
	if join != "" {
		if rest, err = event(nc, rest, "joinChat", join); err != nil {
			return fail(err)
		}
	}
	fd, err := detach(nc)
	if err != nil {
		return nil, err
	}
	k := &Conn{fd: fd, Index: index, Reliable: reliable}
	c.Add(k, rest)
	return k, nil
}

// event sends an event on a blocking socket and waits for its ack.
func event(nc net.Conn, rest []byte, name string, data any) ([]byte, error) {
	id := ackIDs.Add(1)
	if _, err := nc.Write(eventFrameID(name, data, id)); err != nil {
		return nil, err
	}
	var failed string
	rest, err := await(nc, rest, ackMatcher(id, &failed))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if failed != "" && !bytes.Contains([]byte(failed), []byte("Duplicate")) {
		return nil, fmt.Errorf("%s: %s", name, failed)
	}
	return rest, nil
}

// eventFrame is a client event frame with a fresh ackId.
func eventFrame(name string, data any) []byte { return eventFrameID(name, data, ackIDs.Add(1)) }

func eventFrameID(name string, data any, id uint64) []byte {
	b, _ := json.Marshal(map[string]any{"type": "event", "event": name, "ackId": id, "dataType": "json", "data": data})
	return clientFrame(opText, b)
}

// parallel runs f(0..n-1) with conc goroutines and returns the first error.
func parallel(n, conc int, f func(i int) error) error {
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range min(conc, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = fmt.Errorf("#%d: %w", i, err) })
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
