package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/slipwayhq/slipway/updater/client"
)

// testFault makes a test build fail the way a bad release might; the
// self-update tests (update_test.go) link it with -X main.testFault=<mode>.
// Release builds leave it empty and nothing here changes their behaviour.
//
//	init-panic  panic in init, before main (every command fails)
//	exit        `run` exits 1 at once (`version` still works)
//	hang        `run` blocks without ever heartbeating
//	offline     `run` works but cannot reach the server
//	service-crash  `run` works on trial (SLIPWAY_UPDATE_TRIAL set) but, run
//	            by the service manager, exits 1 at its first request to the
//	            server: after the start-up health bookkeeping, before it
//	            can confirm itself healthy (a version that passes its trial
//	            and fails only as the service)
//	service-exit  like service-crash, but `run` exits 1 at once, before
//	            the start-up health bookkeeping (only the service manager's
//	            crash reports can catch it)
var testFault string

func init() {
	if testFault == "init-panic" {
		panic("injected fault: panic in init")
	}
}

// runFault applies the fault to `run`: done is true when run must return
// err instead of running.
func runFault(ctx context.Context) (done bool, err error) {
	switch testFault {
	case "exit":
		return true, errors.New("injected fault: exit at start")
	case "hang":
		<-ctx.Done()
		return true, nil
	case "service-exit":
		if client.TrialVersion() == "" {
			return true, errors.New("injected fault: exit at start as a service")
		}
	}
	return false, nil
}

// faultHTTPClient is the machine API client of an "offline" build: every
// request fails as if the network were down.
func faultHTTPClient() *http.Client {
	switch {
	case testFault == "offline":
		return &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
			return nil, errors.New("injected fault: network unreachable")
		})}
	case testFault == "service-crash" && client.TrialVersion() == "":
		return &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
			fmt.Fprintln(os.Stderr, "injected fault: crash as a service")
			os.Exit(1)
			return nil, nil
		})}
	}
	return nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
