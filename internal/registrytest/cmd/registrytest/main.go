// Command registrytest serves an in-memory OCI registry for end-to-end
// scripts (scripts/dagger-e2e.sh), optionally behind basic
// authentication: the password is read from REGISTRY_PASSWORD, never from
// a flag. Not for production use.
package main

import (
	"flag"
	"log"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/slipwayhq/slipway/internal/registrytest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5000", "listen address")
	user := flag.String("user", "", "require this user (password from REGISTRY_PASSWORD)")
	flag.Parse()
	password := os.Getenv("REGISTRY_PASSWORD")
	if (*user == "") != (password == "") {
		log.Fatal("registrytest: -user and REGISTRY_PASSWORD go together")
	}
	srv := &http.Server{Addr: *addr, Handler: registrytest.Handler(*user, password, new(atomic.Int64)), ReadHeaderTimeout: 10 * time.Second}
	log.Printf("registrytest: serving on %s (login required: %v)", *addr, *user != "")
	log.Fatal(srv.ListenAndServe())
}
