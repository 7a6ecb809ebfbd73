package hub

import (
	"strconv"
	"testing"
)

func TestUnackedBufferChunks(t *testing.T) {
	var u unackedBuffer
	const n = 3*unackedChunkLen + 5
	for i := uint64(1); i <= n; i++ {
		u.push(i, []byte(strconv.FormatUint(i, 10)))
	}
	if u.len() != n {
		t.Fatalf("len %d, want %d", u.len(), n)
	}
	u.ack(unackedChunkLen + 7)
	live := u.live()
	if len(live) != n-unackedChunkLen-7 {
		t.Fatalf("%d live after ack, want %d", len(live), n-unackedChunkLen-7)
	}
	for i, m := range live {
		want := uint64(unackedChunkLen + 8 + i)
		if m.seq != want || string(m.body) != strconv.FormatUint(want, 10) {
			t.Fatalf("live[%d] = %d %q, want %d", i, m.seq, m.body, want)
		}
	}
	if len(u.chunks) != 3 {
		t.Errorf("%d chunks held after the first was acknowledged, want 3", len(u.chunks))
	}
	wantBytes := 0
	for _, m := range live {
		wantBytes += unackedCost(m.body)
	}
	if u.bytes != wantBytes {
		t.Errorf("bytes %d, want %d", u.bytes, wantBytes)
	}
	u.ack(n - 1)
	if u.len() != 1 || u.live()[0].seq != n {
		t.Fatalf("after acking all but one: %v", u.live())
	}
	u.push(n+1, []byte("x")) // numbering continues
	u.ack(n + 1)
	if u.len() != 0 || u.bytes != 0 || u.chunks != nil {
		t.Errorf("empty buffer holds len %d, bytes %d, %d chunks", u.len(), u.bytes, len(u.chunks))
	}
	u.push(n+2, []byte("y"))
	if l := u.live(); len(l) != 1 || l[0].seq != n+2 {
		t.Errorf("after emptying, live = %v", l)
	}
}
