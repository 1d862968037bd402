package webhook

import "net/http"

// Response is what a receiver answered, with its body read up to the cap.
type Response struct {
	// Status is the HTTP status code.
	Status int
	// Header holds the response headers.
	Header http.Header
	// Body holds the response body after decompression, at most the
	// Sender's cap.
	Body []byte
}
