package webhooktest

import (
	"io"
	"net/http"
	"time"
)

// Reply is one scripted answer of a Server.
type Reply struct {
	// Status is the response's status. Defaults to 200.
	Status int

	// Header is added to the response: Retry-After to ask for a later
	// retry, Content-Type, Location for a redirect.
	Header http.Header

	// Body is the response's body.
	Body string

	// Delay holds the response back, to test a sender's timeout. It ends
	// early when the request's context ends (the sender gave up) or the
	// server closes; either way the connection is then closed without an
	// answer.
	Delay time.Duration
}

// Respond scripts the statuses of the next requests whose signature holds,
// one each, after any already scripted; each reply has an empty body. Once
// the script is used up, Handler answers, or else 200. A status outside 200
// to 599 fails the test.
func (s *Server) Respond(statuses ...int) {
	s.tb.Helper()
	replies := make([]Reply, len(statuses))
	for i, st := range statuses {
		replies[i] = Reply{Status: st}
	}
	s.RespondWith(replies...)
}

// RespondWith is Respond with bodies, headers and delays.
func (s *Server) RespondWith(replies ...Reply) {
	s.tb.Helper()
	for i, r := range replies {
		if r.Status != 0 && (r.Status < 200 || r.Status > 599) {
			s.tb.Fatalf("webhooktest: reply %d of %d: status %d is not a final HTTP status (200 to 599)",
				i+1, len(replies), r.Status)
			return
		}
		if r.Delay < 0 {
			s.tb.Fatalf("webhooktest: reply %d of %d: negative delay %v", i+1, len(replies), r.Delay)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range replies {
		r.Header = r.Header.Clone()
		s.script = append(s.script, r)
	}
}

// reply answers with a scripted reply.
func (s *Server) reply(w http.ResponseWriter, r *http.Request, rep Reply) {
	if rep.Delay > 0 {
		t := time.NewTimer(rep.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			panic(http.ErrAbortHandler)
		case <-s.closed:
			panic(http.ErrAbortHandler)
		}
	}
	for name, values := range rep.Header {
		for _, v := range values {
			w.Header().Add(name, v)
		}
	}
	status := rep.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	io.WriteString(w, rep.Body)
}
