package auth

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/restkube/restkube/dbserver/auth/oidctest"
)

func TestJWKSRotationPicksUpNewKeys(t *testing.T) {
	e := newEnv(t)
	old := e.prov.Key("RS256")
	if _, err := e.authenticate(e.prov.Sign(old, e.prov.Claims("auth0|r", "r@example.com"))); err != nil {
		t.Fatal(err)
	}
	if n := e.prov.Hits(oidctest.JWKSPath); n != 1 {
		t.Fatalf("JWKS fetches = %d, want 1", n)
	}
	// Cached: more tokens with a known kid do not fetch again.
	for i := 0; i < 3; i++ {
		e.clock.Advance(time.Second)
		if _, err := e.authenticate(e.prov.Sign(old, e.prov.Claims("auth0|r", "r@example.com"))); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.prov.Hits(oidctest.JWKSPath); n != 1 {
		t.Fatalf("JWKS fetches with known kids = %d, want 1", n)
	}
	e.clock.Advance(MinJWKSRefresh)
	fresh := e.prov.Rotate("RS256")
	p, err := e.authenticate(e.prov.Sign(fresh, e.prov.Claims("auth0|r", "r@example.com")))
	wantErr(t, err, nil)
	if p.Name != "r@example.com" || e.prov.Hits(oidctest.JWKSPath) != 2 {
		t.Errorf("after rotation: principal %+v, JWKS fetches %d (want 2)", p, e.prov.Hits(oidctest.JWKSPath))
	}
	// The retired key is gone from our cache too.
	_, err = e.authenticate(e.prov.Sign(old, e.prov.Claims("auth0|r", "r@example.com")))
	wantErr(t, err, ErrUnauthorized)
}

func TestUnknownKIDFloodRefetchesAtMostEveryFiveSeconds(t *testing.T) {
	e := newEnv(t)
	k := e.prov.Key("ES256")
	if _, err := e.authenticate(e.prov.Sign(k, e.prov.Claims("auth0|f", "f@example.com"))); err != nil {
		t.Fatal(err)
	}
	flood := func(n int) {
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				tok := e.prov.SignWithKID(k, fmt.Sprintf("bogus-%d", i), e.prov.Claims("auth0|f", "f@example.com"))
				if _, err := e.svc.Authenticate(context.Background(), tok); err == nil {
					t.Errorf("a bogus kid was accepted")
				}
			}(i)
		}
		wg.Wait()
	}
	flood(50)
	if n := e.prov.Hits(oidctest.JWKSPath); n != 1 {
		t.Errorf("JWKS fetches within 5 s of the last = %d, want 1 (no refetch)", n)
	}
	e.clock.Advance(MinJWKSRefresh)
	flood(50)
	if n := e.prov.Hits(oidctest.JWKSPath); n != 2 {
		t.Errorf("JWKS fetches after 5 s = %d, want 2 (exactly one refetch)", n)
	}
	e.clock.Advance(MinJWKSRefresh - time.Second)
	flood(20)
	if n := e.prov.Hits(oidctest.JWKSPath); n != 2 {
		t.Errorf("JWKS fetches 4 s later = %d, want still 2", n)
	}
}

func TestProviderTroubleIsUnavailableNotUnauthorized(t *testing.T) {
	for name, tc := range map[string]struct {
		break_ func(e *env)
		want   error
	}{
		"down":                      {break_: func(e *env) { e.prov.Close() }, want: ErrUnavailable},
		"hanging":                   {break_: func(e *env) { e.prov.SetHang(true) }, want: ErrUnavailable},
		"answering 503":             {break_: func(e *env) { e.prov.SetStatus(http.StatusServiceUnavailable) }, want: ErrUnavailable},
		"answering 500":             {break_: func(e *env) { e.prov.SetStatus(http.StatusInternalServerError) }, want: ErrBadGateway},
		"announcing another issuer": {break_: func(e *env) { e.prov.SetDiscoveryIssuer("https://evil.example/") }, want: ErrBadGateway},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.timeout = 300 * time.Millisecond
			e.newService()
			rs := e.prov.Sign(e.prov.Key("RS256"), e.prov.Claims("auth0|d", "d@example.com"))
			hs := e.prov.SignHS256(e.prov.Claims("auth0|d", "d@example.com"))
			idt := e.prov.Sign(e.prov.Key("RS256"), e.prov.Claims("auth0|d2", "d2@example.com"))
			code := e.prov.IssueCode(idt, "")
			e.secret(idt)
			tc.break_(e)

			start := time.Now()
			_, err := e.authenticate(rs)
			wantErr(t, err, tc.want)
			_, err = e.token(TokenRequest{Code: code})
			wantErr(t, err, tc.want)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v; the provider timeout is 300ms per call", d)
			}
			// A failed fetch is not retried within 5 s: the next request fails fast.
			hits := e.prov.Hits("/.well-known/openid-configuration")
			_, err = e.authenticate(rs)
			wantErr(t, err, tc.want)
			if got := e.prov.Hits("/.well-known/openid-configuration"); got != hits {
				t.Errorf("discovery refetched within 5 s of a failure (%d → %d)", hits, got)
			}
			// HS256 ID tokens need no provider call: they keep working.
			_, err = e.authenticate(hs)
			wantErr(t, err, nil)
		})
	}
}

func TestStaleKeysServeWhileProviderIsDown(t *testing.T) {
	e := newEnv(t)
	k := e.prov.Key("RS256")
	if _, err := e.authenticate(e.prov.Sign(k, e.prov.Claims("auth0|s", "s@example.com"))); err != nil {
		t.Fatal(err)
	}
	e.prov.SetStatus(http.StatusServiceUnavailable)
	e.clock.Advance(keysMaxAge + time.Minute)
	if _, err := e.authenticate(e.prov.Sign(k, e.prov.Claims("auth0|s", "s@example.com"))); err != nil {
		t.Errorf("a known key was refused while the provider is down: %v", err)
	}
	if n := e.prov.Hits(oidctest.JWKSPath) + e.prov.Hits("/.well-known/openid-configuration"); n != 3 {
		t.Errorf("provider hits = %d, want 3 (one fetch, one failed refresh)", n)
	}
	// Back up: the next refresh after 5 s fetches again.
	e.prov.SetStatus(0)
	e.clock.Advance(MinJWKSRefresh)
	if _, err := e.authenticate(e.prov.Sign(k, e.prov.Claims("auth0|s", "s@example.com"))); err != nil {
		t.Fatal(err)
	}
	if n := e.prov.Hits(oidctest.JWKSPath); n != 2 {
		t.Errorf("JWKS fetches = %d, want 2", n)
	}
}

func TestLooksLikeJWT(t *testing.T) {
	for in, want := range map[string]bool{
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig": true,
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.":     true,
		"AbC123_-xyz":                              false,
		"a.b":                                      false,
		"a.b.c.d":                                  false,
		"a b.c.d":                                  false,
		".b.c":                                     false,
	} {
		if got := looksLikeJWT(in); got != want {
			t.Errorf("looksLikeJWT(%q) = %v, want %v", in, got, want)
		}
	}
}
