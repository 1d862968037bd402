package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// queueFixture is a receiver and the files that point at it.
type queueFixture struct {
	db, action, data, data2, draftAction string
	mu                                   sync.Mutex
	requests                             []queueRequest
	fail                                 bool // answer 500
}

type queueRequest struct {
	key, body string
	signed    bool
}

func newQueueFixture(t *testing.T) *queueFixture {
	t.Helper()
	dir := t.TempDir()
	f := &queueFixture{db: filepath.Join(dir, "q.db")}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts := r.Header.Get(webhook.HeaderTimestamp)
		var tsn int64
		fmt.Sscan(ts, &tsn)
		signed := webhook.Verify([]byte("queue-key"), r.Header.Get(webhook.HeaderSignature), tsn, body) == nil
		f.mu.Lock()
		f.requests = append(f.requests, queueRequest{r.Header.Get(webhook.HeaderIdempotencyKey), string(body), signed})
		fail := f.fail
		f.mu.Unlock()
		if fail {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id": "lead-1"}`)
	}))
	t.Cleanup(srv.Close)
	f.action = writeFile(t, dir, "action.json", `{"url": "`+srv.URL+`/leads", "body": "{\"email\": {{ customer.email | json }}}",
		"response": {"lead_id": "{{ response.id }}"}, "sending": "automatic"}`)
	f.draftAction = writeFile(t, dir, "draft.json", `{"url": "`+srv.URL+`/leads", "body": "{\"email\": {{ customer.email | json }}}"}`)
	f.data = writeFile(t, dir, "ada.json", `{"customer": {"email": "ada@example.com"}}`)
	f.data2 = writeFile(t, dir, "ada2.json", `{"customer": {"email": "ada@new.example"}}`)
	return f
}

func (f *queueFixture) seen() []queueRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]queueRequest(nil), f.requests...)
}

// add queues a delivery and returns its id.
func (f *queueFixture) add(t *testing.T, action string, extra ...string) string {
	t.Helper()
	code, stdout, stderr := runCLI(t, append([]string{"queue", "add", "--action", action, "--data", f.data, "--db", f.db}, extra...)...)
	require.Equal(t, exitOK, code, stderr)
	return strings.TrimSpace(stdout)
}

func (f *queueFixture) work(t *testing.T, extra ...string) string {
	t.Helper()
	code, _, stderr := runCLIEnv(t, "", signingKey("queue-key"), append([]string{"queue", "work", "--until-idle", "--allow-private", "--backoff", "10ms", "--db", f.db}, extra...)...)
	require.Equal(t, exitOK, code, stderr)
	return stderr
}

func (f *queueFixture) show(t *testing.T, id string) queueShown {
	t.Helper()
	code, stdout, stderr := runCLI(t, "queue", "show", id, "--json", "--db", f.db)
	require.Equal(t, exitOK, code, stderr)
	var d queueShown
	require.NoError(t, json.Unmarshal([]byte(stdout), &d), stdout)
	return d
}

// queueShown is the --json object, as a script reads it.
type queueShown struct {
	ID             int64          `json:"id"`
	State          string         `json:"state"`
	IdempotencyKey string         `json:"idempotency_key"`
	Lax            bool           `json:"lax"`
	Attributes     map[string]any `json:"attributes"`
	Attempts       []struct {
		Series   int    `json:"series"`
		Number   int    `json:"number"`
		Status   int    `json:"status"`
		Class    string `json:"class"`
		Duration int64  `json:"duration"`
		Response string `json:"response"`
	} `json:"attempts"`
}

func TestQueueAddWorkShow(t *testing.T) {
	t.Parallel()
	f := newQueueFixture(t)
	id := f.add(t, f.action)
	assert.Equal(t, "1", id)

	progress := f.work(t)
	assert.Contains(t, progress, "delivery 1: attempt 1: 200")
	assert.Contains(t, progress, "delivered")

	d := f.show(t, id)
	assert.Equal(t, "delivered", d.State)
	assert.Equal(t, map[string]any{"lead_id": "lead-1"}, d.Attributes)
	require.Len(t, d.Attempts, 1)
	assert.Equal(t, 200, d.Attempts[0].Status)
	assert.Equal(t, `{"id": "lead-1"}`, d.Attempts[0].Response)
	assert.Positive(t, d.Attempts[0].Duration)

	seen := f.seen()
	require.Len(t, seen, 1)
	assert.Equal(t, d.IdempotencyKey, seen[0].key)
	assert.True(t, seen[0].signed, "signed with LIQUIDHOOK_SIGNING_KEY")
	assert.JSONEq(t, `{"email": "ada@example.com"}`, seen[0].body)

	code, stdout, stderr := runCLI(t, "queue", "show", id, "--db", f.db)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "state:            delivered")
	assert.Contains(t, stdout, "SERIES  ATTEMPT")
}

// TestQueueAddLax: add --lax queues a delivery whose missing variables
// print as empty on every attempt and re-send, which work sends; without
// it, add refuses the data.
func TestQueueAddLax(t *testing.T) {
	t.Parallel()
	f := newQueueFixture(t)
	dir := t.TempDir()
	action := writeFile(t, dir, "nick.json", `{"url": "`+queueURL(t, f.action)+`", "body": "{\"nick\": \"{{ customer.nickname }}\"}", "sending": "automatic"}`)

	code, _, stderr := runCLI(t, "queue", "add", "--action", action, "--data", f.data, "--db", f.db)
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, stderr, "nick.json: body: line 1: missing variable customer.nickname")

	id := f.add(t, action, "--lax")
	f.work(t)
	d := f.show(t, id)
	assert.Equal(t, "delivered", d.State)
	assert.True(t, d.Lax)
	code, stdout, stderr := runCLI(t, "queue", "show", id, "--db", f.db)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "printed as empty (lax)")

	code, _, stderr = runCLI(t, "queue", "resend", id, "--data", f.data2, "--db", f.db)
	require.Equal(t, exitOK, code, stderr)
	f.work(t)
	seen := f.seen()
	require.Len(t, seen, 2)
	assert.JSONEq(t, `{"nick": ""}`, seen[0].body)
	assert.JSONEq(t, `{"nick": ""}`, seen[1].body)
	assert.False(t, f.show(t, f.add(t, f.action)).Lax, "strict by default")
}

// queueURL reads the URL of an action file.
func queueURL(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var spec struct {
		URL string `json:"url"`
	}
	require.NoError(t, json.Unmarshal(b, &spec))
	return spec.URL
}

func TestQueueDraftReleaseResendCancel(t *testing.T) {
	t.Parallel()
	f := newQueueFixture(t)
	byAction := f.add(t, f.draftAction) // the action's sending defaults to draft
	byFlag := f.add(t, f.action, "--draft")
	f.work(t)
	assert.Empty(t, f.seen(), "a draft was sent before release")

	code, stdout, stderr := runCLI(t, "queue", "list", "--state", "draft", "--json", "--db", f.db)
	require.Equal(t, exitOK, code, stderr)
	var drafts []queueShown
	require.NoError(t, json.Unmarshal([]byte(stdout), &drafts))
	assert.Len(t, drafts, 2)

	// Flags may come before or after the ID.
	code, stdout, stderr = runCLI(t, "queue", "release", "--db", f.db, byFlag)
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, byFlag+" scheduled\n", stdout)
	f.work(t)
	require.Len(t, f.seen(), 1)

	code, stdout, stderr = runCLI(t, "queue", "resend", byFlag, "--data", f.data2, "--db", f.db)
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, byFlag+" scheduled\n", stdout)
	f.work(t)
	seen := f.seen()
	require.Len(t, seen, 2)
	assert.Equal(t, seen[0].key, seen[1].key, "a re-send carries the original key")
	assert.JSONEq(t, `{"email": "ada@new.example"}`, seen[1].body, "and the new data")
	d := f.show(t, byFlag)
	require.Len(t, d.Attempts, 2)
	assert.Equal(t, 2, d.Attempts[1].Series)

	code, stdout, stderr = runCLI(t, "queue", "cancel", byAction, "--db", f.db)
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, byAction+" cancelled\n", stdout)

	code, stdout, stderr = runCLI(t, "queue", "list", "--db", f.db)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "cancelled")
	assert.Contains(t, stdout, "delivered")
}

func TestQueueWorkFailsAfterRetries(t *testing.T) {
	t.Parallel()
	f := newQueueFixture(t)
	f.fail = true
	id := f.add(t, f.action)
	progress := f.work(t, "--retries", "2")
	assert.Contains(t, progress, "retry in")
	assert.Contains(t, progress, "failed")
	assert.Equal(t, 3, strings.Count(progress, "delivery "+id+": attempt "), "one line per attempt:\n%s", progress)
	assert.NotContains(t, progress, "level=WARN", "the progress lines say it all")
	d := f.show(t, id)
	assert.Equal(t, "failed", d.State, "work --until-idle exits 0; the state says it failed")
	assert.Len(t, d.Attempts, 3)
	assert.Len(t, f.seen(), 3)
}

// --json gives attributes as an object in every state, as send does, so
// that a script can look a name up without first checking for null.
func TestQueueJSONAttributesAreAnObject(t *testing.T) {
	t.Parallel()
	f := newQueueFixture(t)
	f.fail = true
	draft := f.add(t, f.draftAction)
	failed := f.add(t, f.action)
	f.work(t, "--retries", "0")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"show a draft", []string{"show", draft}},
		{"show a failed one", []string{"show", failed}},
		{"list", []string{"list"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append(append([]string{"queue"}, tc.args...), "--json", "--db", f.db)...)
			require.Equal(t, exitOK, code, stderr)
			var objects []map[string]any
			if !strings.HasPrefix(stdout, "[") {
				stdout = "[" + stdout + "]"
			}
			require.NoError(t, json.Unmarshal([]byte(stdout), &objects), stdout)
			require.NotEmpty(t, objects)
			for _, o := range objects {
				assert.Equal(t, map[string]any{}, o["attributes"], "delivery %v", o["id"])
				assert.IsType(t, []any{}, o["attempts"], "delivery %v", o["id"])
			}
		})
	}
}

// TestQueueImpossibleOperations: exit 2, and nothing changes.
func TestQueueImpossibleOperations(t *testing.T) {
	t.Parallel()
	f := newQueueFixture(t)
	delivered := f.add(t, f.action)
	f.work(t)
	draft := f.add(t, f.draftAction)
	cancelled := f.add(t, f.draftAction)
	code, _, stderr := runCLI(t, "queue", "cancel", cancelled, "--db", f.db)
	require.Equal(t, exitOK, code, stderr)
	before := map[string]queueShown{}
	for _, id := range []string{delivered, draft, cancelled} {
		before[id] = f.show(t, id)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"cancel a delivered one", []string{"cancel", delivered}, "cannot cancel delivery 1: it is delivered"},
		{"release a delivered one", []string{"release", delivered}, "cannot release"},
		{"resend a draft", []string{"resend", draft, "--data", f.data2}, "cannot resend delivery 2: it is draft"},
		{"cancel a cancelled one", []string{"cancel", cancelled}, "cannot cancel delivery 3: it is cancelled"},
		{"release a cancelled one", []string{"release", cancelled}, "cannot release delivery 3: it is cancelled"},
		{"unknown id", []string{"show", "42"}, "not found"},
		{"cancel an unknown id", []string{"cancel", "42"}, "not found"},
		{"resend without data", []string{"resend", delivered}, "--data is required"},
		{"no id", []string{"release"}, "liquidhook queue: release needs a delivery ID"},
		{"bad id", []string{"release", "x"}, `delivery ID "x"`},
		{"two ids", []string{"release", "1", "2"}, `unexpected argument "2"`},
		{"a flag of another subcommand", []string{"cancel", delivered, "--json"}, "liquidhook queue: cancel does not take --json"},
		{"unknown subcommand", []string{"purge"}, `unknown subcommand "purge"`},
		{"bad state", []string{"list", "--state", "lost"}, "unknown state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// With a key, so that the only line is the error's.
			code, stdout, stderr := runCLIEnv(t, "", dbKeys(testDBKeyA), append(append([]string{"queue"}, tt.args...), "--db", f.db)...)
			assert.Equal(t, exitBadInput, code, stdout)
			assert.Contains(t, stderr, tt.want)
			assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		})
	}
	for id, d := range before {
		assert.Equal(t, d, f.show(t, id), "delivery %s changed", id)
	}
	assert.Len(t, f.seen(), 1)
}

// TestQueueFlagsBeforeOrAfterTheID: every subcommand that takes an ID
// takes its flags on either side of it.
func TestQueueFlagsBeforeOrAfterTheID(t *testing.T) {
	t.Parallel()
	f := newQueueFixture(t)
	tests := []struct {
		name string
		args func(id string) []string
		want func(id string) string
	}{
		{"show, flags after", func(id string) []string { return []string{"show", id, "--json", "--db", f.db} }, func(id string) string { return `"id": ` + id + ",\n" }},
		{"show, flags before", func(id string) []string { return []string{"show", "--json", "--db", f.db, id} }, func(id string) string { return `"id": ` + id + ",\n" }},
		{"release, flags between", func(id string) []string { return []string{"release", "--db", f.db, id} }, func(id string) string { return id + " scheduled\n" }},
		{"cancel, flags before", func(id string) []string { return []string{"cancel", "--db", f.db, id} }, func(id string) string { return id + " cancelled\n" }},
		{"resend, flags before", func(id string) []string { return []string{"resend", "--data", f.data2, "--db", f.db, id} }, func(id string) string { return id + " scheduled\n" }},
		{"resend, flags on both sides", func(id string) []string { return []string{"resend", "--data", f.data2, id, "--db", f.db} }, func(id string) string { return id + " scheduled\n" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := f.add(t, f.draftAction)
			if strings.HasPrefix(tt.name, "resend") {
				code, _, stderr := runCLI(t, "queue", "cancel", id, "--db", f.db)
				require.Equal(t, exitOK, code, stderr)
			}
			code, stdout, stderr := runCLI(t, append([]string{"queue"}, tt.args(id)...)...)
			require.Equal(t, exitOK, code, stderr)
			assert.Contains(t, stdout, tt.want(id))
		})
	}
}

// TestQueueOutputs: add prints the new id alone on one line, and --json
// gives every field the design names, in list and show alike.
func TestQueueOutputs(t *testing.T) {
	t.Parallel()
	f := newQueueFixture(t)
	code, stdout, stderr := runCLI(t, "queue", "add", "--action", f.action, "--data", f.data, "--db", f.db)
	require.Equal(t, exitOK, code, stderr)
	assert.Regexp(t, `^[1-9][0-9]*\n$`, stdout)
	id := strings.TrimSpace(stdout)
	f.work(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"show", []string{"show", id, "--json"}},
		{"list", []string{"list", "--json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append(append([]string{"queue"}, tc.args...), "--db", f.db)...)
			require.Equal(t, exitOK, code, stderr)
			if !strings.HasPrefix(stdout, "[") {
				stdout = "[" + stdout + "]"
			}
			var objects []map[string]any
			require.NoError(t, json.Unmarshal([]byte(stdout), &objects), stdout)
			require.Len(t, objects, 1)
			o := objects[0]
			assert.Equal(t, id, fmt.Sprint(o["id"]))
			assert.Equal(t, "delivered", o["state"])
			assert.NotEmpty(t, o["idempotency_key"])
			assert.Equal(t, map[string]any{"lead_id": "lead-1"}, o["attributes"])
			require.Len(t, o["attempts"], 1)
			assert.Equal(t, float64(200), o["attempts"].([]any)[0].(map[string]any)["status"])
			assert.NotContains(t, o, "spec", "the action, which may hold credentials, is not printed")
		})
	}
}

func TestQueueBadInput(t *testing.T) {
	t.Parallel()
	f := newQueueFixture(t)
	dir := t.TempDir()
	badBody := writeFile(t, dir, "bad.json", `{"url": "https://example.com", "body": "{\"email\": {{ customer.email }}"}`)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no db", []string{"queue", "list"}, "--db is required"},
		{"no action", []string{"queue", "add", "--data", f.data, "--db", f.db}, "--action is required"},
		{"missing file", []string{"queue", "add", "--action", filepath.Join(dir, "nope.json"), "--data", f.data, "--db", f.db}, "nope.json: cannot read"},
		{"body that is not JSON", []string{"queue", "add", "--action", badBody, "--data", f.data, "--db", f.db}, "bad.json: "},
		{"bad timeout", []string{"queue", "work", "--timeout", "0s", "--db", f.db}, "--timeout"},
		{"bad db", []string{"queue", "list", "--db", "x.db?mode=ro"}, "--db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.args...)
			assert.Equal(t, exitBadInput, code)
			assert.Contains(t, stderr, tt.want)
		})
	}
	code, stdout, _ := runCLI(t, "queue", "list", "--json", "--db", f.db)
	require.Equal(t, exitOK, code)
	assert.Equal(t, "[]\n", stdout, "a refused add queued nothing")

	t.Run("db from the environment", func(t *testing.T) {
		code, stdout, stderr := runCLIEnv(t, "", map[string]string{envQueueDB: f.db}, "queue", "list", "--json")
		require.Equal(t, exitOK, code, stderr)
		assert.Equal(t, "[]\n", stdout)
	})

	code, _, stderr := runCLI(t, "queue", "--help")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, stderr, "usage: liquidhook queue")
}

// A queue command line that is wrong is refused before the database is
// opened: no SQLite file is created and no server is contacted for it.
func TestQueueBadInputLeavesTheDatabaseAlone(t *testing.T) {
	t.Parallel()
	f := newQueueFixture(t)
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"add without an action", []string{"add", "--data", f.data}, "--action is required"},
		{"add without data", []string{"add", "--action", f.action}, "--data is required"},
		{"add with a missing file", []string{"add", "--action", filepath.Join(dir, "nope.json"), "--data", f.data}, "nope.json: cannot read"},
		{"add with data that is not an object", []string{"add", "--action", f.action, "--data", writeFile(t, dir, "arr.json", "[1]")}, "arr.json: line 1, column 1: data must be a JSON object"},
		{"work with a bad timeout", []string{"work", "--timeout", "0s"}, "--timeout 0s"},
		{"work with no concurrency", []string{"work", "--concurrency", "0"}, "--concurrency 0: want 1 to 5000"},
		{"work with more concurrency than a worker runs", []string{"work", "--concurrency", "5001"}, "--concurrency 5001: want 1 to 5000"},
		{"ui with a port out of range", []string{"ui", "--addr", "127.0.0.1:99999"}, `--addr "127.0.0.1:99999": want host:port`},
		{"list with a bad limit", []string{"list", "--limit", "0"}, "--limit 0"},
		{"list with a bad state", []string{"list", "--state", "lost"}, `unknown state "lost"`},
		{"add with a missing lines file", []string{"add", "--action", f.action, "--data", filepath.Join(dir, "people.jsonl")}, "people.jsonl: cannot read"},
		{"resend without data", []string{"resend", "1"}, "--data is required"},
		{"resume without a destination", []string{"resume"}, "resume needs a destination"},
		{"destinations with an argument", []string{"destinations", "x"}, `unexpected argument "x"`},
		{"resend with a missing file", []string{"resend", "1", "--data", filepath.Join(dir, "nope.json")}, "nope.json: cannot read"},
	}
	for _, tt := range tests {
		for _, db := range []struct{ name, url string }{
			{"SQLite", filepath.Join(dir, "fresh.db")},
			{"PostgreSQL", "postgres://user@127.0.0.1:1/app?connect_timeout=2"}, // unreachable
		} {
			t.Run(tt.name+" "+db.name, func(t *testing.T) {
				code, stdout, stderr := runCLI(t, append(append([]string{"queue"}, tt.args...), "--db", db.url)...)
				assert.Equal(t, exitBadInput, code)
				assert.Empty(t, stdout)
				assert.True(t, strings.HasPrefix(stderr, "liquidhook queue: "), stderr)
				assert.Contains(t, stderr, tt.want, "the flag's own error, not the database's")
				assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
				assert.NoFileExists(t, filepath.Join(dir, "fresh.db"))
			})
		}
	}
}

// TestQueueBinary runs the built command: two work processes share one
// SQLite file.
func TestQueueBinary(t *testing.T) {
	t.Parallel()
	bin := buildCLI(t)
	f := newQueueFixture(t)
	for range 20 {
		f.add(t, f.action)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			cmd := exec.Command(bin, "queue", "work", "--until-idle", "--allow-private", "--db", f.db)
			cmd.Env = append(os.Environ(), envSigningKey+"=queue-key")
			out, err := cmd.CombinedOutput()
			assert.NoError(t, err, string(out))
		})
	}
	wg.Wait()
	seen := f.seen()
	assert.Len(t, seen, 20)
	keys := map[string]bool{}
	for _, r := range seen {
		keys[r.key] = true
		assert.True(t, r.signed)
	}
	assert.Len(t, keys, 20, "each delivery sent once")
}

// FuzzQueueArgs feeds arbitrary command lines to the queue's parser: it
// never panics, every refusal is bad input (exit 2), and an accepted ID is
// positive.
func FuzzQueueArgs(f *testing.F) {
	for _, in := range []string{
		"show 1 --json --db x.db",
		"release --db x.db 12",
		"resend 3 --data d.json --db=x.db",
		"list --state draft,failed --limit 5 --db x.db",
		"work --until-idle --timeout 1s --retries 0 --backoff 1ms --db x.db",
		"cancel -1 --db x.db",
		"add --action a.json --data d.json --draft --db x.db extra",
		"show 9223372036854775808",
		"resume https://api.example.com:443 --db x.db",
		"destinations --json --db x.db",
		"--",
	} {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Fields(line)
		if len(args) == 0 {
			return
		}
		for i := range queueCommands {
			cmd := &queueCommands[i]
			call, err := parseQueueArgs(cmd, args)
			if err != nil {
				var ee *exitError
				if !errors.Is(err, flag.ErrHelp) && (!errors.As(err, &ee) || ee.code != exitBadInput) {
					t.Fatalf("%s %q: %v is not bad input", cmd.name, line, err)
				}
				continue
			}
			if cmd.arg == argID && call.id <= 0 {
				t.Fatalf("%s %q: accepted ID %d", cmd.name, line, call.id)
			}
			if cmd.arg != argID && call.id != 0 {
				t.Fatalf("%s %q: an ID for a command without one", cmd.name, line)
			}
			if (cmd.arg == argDestination) != (call.dest != "") {
				t.Fatalf("%s %q: destination %q", cmd.name, line, call.dest)
			}
		}
	})
}

func TestQueueRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://api.example.com/v1/leads", "https://api.example.com/v1/leads"},
		{"https://user:p@ss@api.example.com/users/a@b", "https://REDACTED@api.example.com/users/a@b"},
		{"https://KEY@api.close.com/api/v1/lead/", "https://REDACTED@api.close.com/api/v1/lead/"},
		{"https://api.trello.com/1/cards?key=abc&token={{ customer.t }}", "https://api.trello.com/1/cards?…"},
		{"https://{{ customer.sub }}.zendesk.com/x", "https://{{ customer.sub }}.zendesk.com/x"},
	} {
		if got := queueRedactURL(tc.in); got != tc.want {
			t.Errorf("queueRedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestQueueKeepsTheDatabasePasswordOut gives a database password in --db,
// in LIQUIDHOOK_DB and where an argument belongs, with URLs that fail in
// different ways: the password never reaches the output.
func TestQueueKeepsTheDatabasePasswordOut(t *testing.T) {
	t.Parallel()
	const password = "hunter2-db"
	urls := []string{
		"postgres://user:" + password + "@127.0.0.1:1/app?connect_timeout=2", // unreachable
		"postgres://user:" + password + "@db.example:notaport/app",           // unparsable
		"POSTGRES://user:" + password + "@127.0.0.1:1/app",                   // a scheme in capitals
		"mysql://user:" + password + "@db.example/app",                       // another database
	}
	for _, u := range urls {
		for _, tc := range []struct {
			name string
			vars map[string]string
			args []string
		}{
			{"--db", nil, []string{"queue", "list", "--db", u}},
			{"LIQUIDHOOK_DB", map[string]string{envQueueDB: u}, []string{"queue", "list"}},
			{"as the ID", map[string]string{envQueueDB: u}, []string{"queue", "show", u}},
			{"as an argument", nil, []string{"queue", "list", u}},
		} {
			t.Run(tc.name+" "+u[:strings.Index(u, ":")], func(t *testing.T) {
				code, stdout, stderr := runCLIEnv(t, "", tc.vars, tc.args...)
				assert.Equal(t, exitBadInput, code)
				assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
				assert.NotContains(t, stdout+stderr, password)
			})
		}
	}
}

// Sealing keys for the tests, base64 as LIQUIDHOOK_DB_KEY holds them.
var (
	testDBKeyA = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xa1}, 32))
	testDBKeyB = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xb2}, 32))
)

// dbKeys is an environment holding keys as LIQUIDHOOK_DB_KEY, and the
// signing key of the queue fixture.
func dbKeys(keys ...string) map[string]string {
	return map[string]string{envDBKey: strings.Join(keys, ","), envSigningKey: "queue-key"}
}

// TestQueueSealed runs the queue commands on a sealed log: the file holds
// no data in the clear, a missing or wrong key is refused naming the
// delivery, and rekey moves the log to a new key.
func TestQueueSealed(t *testing.T) {
	t.Parallel()
	f := newQueueFixture(t)
	queue := func(vars map[string]string, args ...string) (int, string, string) {
		return runCLIEnv(t, "", vars, append(append([]string{"queue"}, args...), "--db", f.db)...)
	}
	code, stdout, stderr := queue(dbKeys(testDBKeyA), "add", "--action", f.action, "--data", f.data)
	require.Equal(t, exitOK, code, stderr)
	assert.Empty(t, stderr, "no warning with a key")
	id := strings.TrimSpace(stdout)
	code, _, stderr = queue(dbKeys(testDBKeyA), "work", "--until-idle", "--allow-private", "--backoff", "10ms")
	require.Equal(t, exitOK, code, stderr)
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(f.db + suffix)
		if errors.Is(err, os.ErrNotExist) {
			continue // checkpointed into q.db when the last command closed it
		}
		require.NoError(t, err)
		assert.NotContains(t, string(b), "ada@example.com", "q.db%s", suffix)
		assert.NotContains(t, string(b), "lead-1", "q.db%s", suffix)
	}

	code, stdout, stderr = queue(dbKeys(testDBKeyA), "show", id, "--json")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, `"lead_id": "lead-1"`)

	for _, tc := range []struct {
		name string
		vars map[string]string
		want string
	}{
		{"no key", nil, "delivery 1: spec is sealed"},
		{"wrong key", dbKeys(testDBKeyB), "which is not among the queue's keys"},
		{"a key that is not base64", dbKeys("not a key"), "LIQUIDHOOK_DB_KEY: delivery: invalid sealing key: key 1 of 1 is not base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, sub := range [][]string{{"show", id}, {"list"}} {
				code, stdout, stderr := queue(tc.vars, sub...)
				assert.Equal(t, exitBadInput, code, stdout)
				assert.Contains(t, stderr, tc.want)
				assert.NotContains(t, stderr, testDBKeyA)
			}
		})
	}

	code, stdout, stderr = queue(dbKeys(testDBKeyB, testDBKeyA), "rekey")
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, "1 deliveries sealed again under the first key\n", stdout)
	code, stdout, stderr = queue(dbKeys(testDBKeyB), "show", id, "--json")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, `"lead_id": "lead-1"`)
	code, _, stderr = queue(dbKeys(testDBKeyA), "show", id)
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, stderr, "delivery 1: spec is sealed with key")

	code, _, stderr = queue(nil, "rekey")
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, stderr, "LIQUIDHOOK_DB_KEY is not set")
}

// TestQueueNotSealedWarning: without LIQUIDHOOK_DB_KEY each command says
// once that the log is not sealed.
func TestQueueNotSealedWarning(t *testing.T) {
	t.Parallel()
	f := newQueueFixture(t)
	code, _, stderr := runCLI(t, "queue", "add", "--action", f.action, "--data", f.data, "--db", f.db)
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, "liquidhook queue: the delivery log is not sealed: set LIQUIDHOOK_DB_KEY to seal secrets and personal data at rest (see liquidhook queue --help)\n", stderr)
}

// TestQueueRefusesAPasswordInDB: a database password belongs in
// LIQUIDHOOK_DB, not on the command line, where other users of the machine
// can read it; --db with one is refused before anything is opened.
func TestQueueRefusesAPasswordInDB(t *testing.T) {
	t.Parallel()
	const refusal = "liquidhook queue: --db: a password does not belong on the command line, where other users can see it: set LIQUIDHOOK_DB instead\n"
	for _, tc := range []struct {
		name    string
		vars    map[string]string
		args    []string
		refused bool
	}{
		{"a password in --db", nil, []string{"--db", "postgres://app:hunter2@127.0.0.1:1/app?connect_timeout=2"}, true},
		{"a password in --db's query", nil, []string{"--db", "postgresql://app@127.0.0.1:1/app?password=hunter2&connect_timeout=2"}, true},
		{"an empty password in --db", nil, []string{"--db", "postgres://app:@127.0.0.1:1/app?connect_timeout=2"}, true},
		{"a user without a password in --db", nil, []string{"--db", "postgres://app@127.0.0.1:1/app?connect_timeout=2"}, false},
		{"a password in LIQUIDHOOK_DB", map[string]string{envQueueDB: "postgres://app:hunter2@127.0.0.1:1/app?connect_timeout=2"}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLIEnv(t, "", tc.vars, append([]string{"queue", "list"}, tc.args...)...)
			assert.Equal(t, exitBadInput, code, "the database is unreachable either way")
			assert.Empty(t, stdout)
			if tc.refused {
				assert.Equal(t, refusal, stderr)
			} else {
				assert.NotContains(t, stderr, "does not belong")
				assert.Contains(t, stderr, "--db: delivery: ", "refused by the database, not the flag")
			}
			assert.NotContains(t, stderr, "hunter2")
		})
	}
}
