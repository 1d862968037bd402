package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"
)

// The commands that serve (listen, queue ui) share one server: its reads
// and writes bounded so that a slow or hostile client cannot hold it, and
// one way of stopping.
const (
	serveReadHeaderTimeout = 10 * time.Second
	serveReadTimeout       = time.Minute
	serveWriteTimeout      = time.Minute
	serveMaxHeaderBytes    = 64 << 10
	// serveShutdownTimeout is how long requests in flight may take to
	// finish once the command is interrupted.
	serveShutdownTimeout = 5 * time.Second
)

// newServer returns a server for h whose own errors go to stderr, each
// line prefixed with the command's name.
func newServer(h http.Handler, stderr io.Writer, name string) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: serveReadHeaderTimeout,
		ReadTimeout:       serveReadTimeout,
		WriteTimeout:      serveWriteTimeout,
		MaxHeaderBytes:    serveMaxHeaderBytes,
		ErrorLog:          log.New(stderr, name+": ", 0),
	}
}

// serve serves srv on ln until ctx ends, then shuts it down, closing it
// outright if requests in flight do not finish in time. It returns a
// failure when the server stops on its own.
func serve(ctx context.Context, srv *http.Server, ln net.Listener) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return failed(fmt.Errorf("serving: %w", err))
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), serveShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return failed(fmt.Errorf("serving: %w", err))
	}
	return nil
}
