package chatr_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chatr/chatr"
)

// TestMessageJSONAdditive: a message without the new features encodes as
// before, so the original client's shapes are unchanged; the features add
// fields and change none.
func TestMessageJSONAdditive(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	plain := chatr.Message{ChatID: "c", ID: 7, FromUserID: "guest:a", FromUserName: "A", Text: "hi", Time: at}
	got, _ := json.Marshal(plain)
	if want := `{"chatId":"c","id":7,"fromUserId":"guest:a","fromUserName":"A","message":"hi","time":"2026-03-04T05:06:07Z"}`; string(got) != want {
		t.Errorf("plain message:\n got  %s\n want %s", got, want)
	}
	full := plain
	full.ReplyTo, full.Edited = 3, at.Add(time.Minute)
	full.Mentions = chatr.Mentions{Users: []string{"guest:b"}, All: true}
	full.Reactions = []chatr.Reaction{{Emoji: "👍", Count: 2, Users: []string{"guest:b", "guest:c"}}}
	got, _ = json.Marshal(full)
	want := `{"chatId":"c","id":7,"fromUserId":"guest:a","fromUserName":"A","message":"hi","time":"2026-03-04T05:06:07Z",` +
		`"replyTo":3,"mentions":{"users":["guest:b"],"all":true},"edited":"2026-03-04T05:07:07Z",` +
		`"reactions":[{"emoji":"👍","count":2,"users":["guest:b","guest:c"]}]}`
	if string(got) != want {
		t.Errorf("message with features:\n got  %s\n want %s", got, want)
	}
	gone := plain
	gone.Text, gone.Deleted, gone.DeletedAt = "", true, at
	got, _ = json.Marshal(gone)
	if want := `{"chatId":"c","id":7,"fromUserId":"guest:a","fromUserName":"A","message":"","time":"2026-03-04T05:06:07Z","deleted":true,"deletedAt":"2026-03-04T05:06:07Z"}`; string(got) != want {
		t.Errorf("deleted message:\n got  %s\n want %s", got, want)
	}
}

func TestCollectReactions(t *testing.T) {
	var rows []chatr.ReactionRow
	for i := range chatr.MaxReactionUsers + 2 {
		rows = append(rows, chatr.ReactionRow{MessageID: 1, Emoji: "a", UserID: string(rune('A' + i%26))})
	}
	rows = append(rows, chatr.ReactionRow{MessageID: 2, Emoji: "b", UserID: "x"}, chatr.ReactionRow{MessageID: 1, Emoji: "c", UserID: "y"})
	got := chatr.CollectReactions(rows)
	if len(got[1]) != 2 || got[1][0].Emoji != "a" || got[1][0].Count != chatr.MaxReactionUsers+2 || len(got[1][0].Users) != chatr.MaxReactionUsers || got[1][1].Emoji != "c" {
		t.Errorf("message 1: %+v", got[1])
	}
	if len(got[2]) != 1 || got[2][0].Users[0] != "x" {
		t.Errorf("message 2: %+v", got[2])
	}
}

func TestCheckEmoji(t *testing.T) {
	for emoji, ok := range map[string]bool{"👍": true, "": false, "\x00": false, "\xff": false, strings.Repeat("x", chatr.MaxEmoji+1): false, strings.Repeat("x", chatr.MaxEmoji): true} {
		if err := chatr.CheckEmoji(emoji); (err == nil) != ok || (err != nil && chatr.ErrorCode(err) != chatr.EINVALID) {
			t.Errorf("CheckEmoji(%q) = %v", emoji, err)
		}
	}
}
