// acme-pay: a small payment service that is not Ordeal's own, used by the tests to
// prove a "foreign" system end to end through a system file. Its API differs from
// the reference payment API on purpose: amounts are major-unit decimal strings,
// currencies upper-case, the idempotency key is a header and the charge id a string.
//
// The seeded defect (ACME_IDEMPOTENCY=memory) keeps idempotency keys in memory only:
// correct while the process lives (concurrent requests with one key are serialised,
// so an idempotency race finds nothing), but a crash forgets every key, so a request
// committed just before a kill and retried after the restart charges twice. Only a
// fault exposes it. ACME_IDEMPOTENCY=db (the default) keeps the keys in PostgreSQL
// under a unique constraint: the fixed twin.
//
// Environment: ACME_LISTEN (127.0.0.1:port), ACME_DATABASE_URL, ACME_PID_FILE
// (written once listening), ACME_IDEMPOTENCY (db|memory), ACME_SETTLE_MS (work done
// after the charge is committed and before it is answered: a fraud-score call in a
// real service; it is what leaves committed-but-unanswered charges at a kill).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

type chargeRequest struct {
	Reference string            `json:"reference"`
	Amount    string            `json:"amount"`
	Currency  string            `json:"currency"`
	Customer  string            `json:"customer"`
	Metadata  map[string]string `json:"metadata"`
}

type charge struct {
	ID        string `json:"id"`
	Reference string `json:"reference"`
	Amount    string `json:"amount"`
	Currency  string `json:"currency"`
	Status    string `json:"status"`
}

var (
	amountRe   = regexp.MustCompile(`^[0-9]{1,10}\.[0-9]{2}$`)
	currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)
)

// memoryKeys is the defect: idempotency that lives and dies with the process.
type memoryKeys struct {
	mu   sync.Mutex
	done map[string]charge
	busy map[string]chan struct{}
}

// claim returns the stored answer for key, or a release function once the caller owns the key.
func (m *memoryKeys) claim(ctx context.Context, key string) (*charge, func(*charge), error) {
	for {
		m.mu.Lock()
		if c, ok := m.done[key]; ok {
			m.mu.Unlock()
			return &c, nil, nil
		}
		wait, busy := m.busy[key]
		if !busy {
			ch := make(chan struct{})
			m.busy[key] = ch
			m.mu.Unlock()
			return nil, func(c *charge) {
				m.mu.Lock()
				if c != nil {
					m.done[key] = *c
				}
				delete(m.busy, key)
				m.mu.Unlock()
				close(ch)
			}, nil
		}
		m.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

type server struct {
	db     *pgxpool.Pool
	memory *memoryKeys // nil: keys in the database (fixed)
	settle time.Duration
	log    *slog.Logger
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("content-type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func problem(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func (s *server) charges(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		problem(w, 400, "Idempotency-Key header is required")
		return
	}
	var req chargeRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		problem(w, 400, "body is not JSON: "+err.Error())
		return
	}
	if req.Reference == "" || !amountRe.MatchString(req.Amount) || !currencyRe.MatchString(req.Currency) {
		problem(w, 422, fmt.Sprintf("want reference, amount as a decimal string with 2 places (\"12.34\") and an upper-case ISO currency; got reference=%q amount=%q currency=%q", req.Reference, req.Amount, req.Currency))
		return
	}
	ctx := r.Context()
	if s.memory != nil {
		prev, release, err := s.memory.claim(ctx, key)
		if err != nil {
			return
		}
		if prev != nil {
			writeJSON(w, 200, prev)
			return
		}
		c, err := s.insert(ctx, key, req, false)
		if err != nil {
			release(nil)
			problem(w, 503, err.Error())
			return
		}
		release(c)
		s.answer(w, 201, c)
		return
	}
	c, err := s.insert(ctx, key, req, true)
	if err != nil {
		problem(w, 503, err.Error())
		return
	}
	status := 201
	if c.Status == "replayed" {
		c.Status, status = "succeeded", 200
	}
	s.answer(w, status, c)
}

// answer waits out the post-commit work, then replies.
func (s *server) answer(w http.ResponseWriter, status int, c *charge) {
	if s.settle > 0 {
		time.Sleep(s.settle)
	}
	writeJSON(w, status, c)
}

func (s *server) insert(ctx context.Context, key string, req chargeRequest, unique bool) (*charge, error) {
	run := req.Metadata["test_run_id"]
	var c charge
	if !unique {
		err := s.db.QueryRow(ctx, `INSERT INTO charges (idempotency_key, keyed, reference, amount, currency, customer, run_id)
			VALUES ($1, false, $2, $3::numeric, $4, $5, $6) RETURNING 'ch_' || id, reference, amount::text, currency`,
			key, req.Reference, req.Amount, req.Currency, req.Customer, run).Scan(&c.ID, &c.Reference, &c.Amount, &c.Currency)
		c.Status = "succeeded"
		return &c, err
	}
	err := s.db.QueryRow(ctx, `INSERT INTO charges (idempotency_key, reference, amount, currency, customer, run_id)
		VALUES ($1, $2, $3::numeric, $4, $5, $6) ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL AND keyed DO NOTHING
		RETURNING 'ch_' || id, reference, amount::text, currency`,
		key, req.Reference, req.Amount, req.Currency, req.Customer, run).Scan(&c.ID, &c.Reference, &c.Amount, &c.Currency)
	if errors.Is(err, pgx.ErrNoRows) {
		err = s.db.QueryRow(ctx, `SELECT 'ch_' || id, reference, amount::text, currency FROM charges WHERE idempotency_key = $1 AND keyed`, key).
			Scan(&c.ID, &c.Reference, &c.Amount, &c.Currency)
		c.Status = "replayed"
		return &c, err
	}
	c.Status = "succeeded"
	return &c, err
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		problem(w, 503, "database: "+err.Error())
		return
	}
	writeJSON(w, 200, map[string]any{"ok": true, "idempotency": map[bool]string{true: "memory", false: "db"}[s.memory != nil]})
}

// The bug and the fix share one schema: `keyed` rows (written by the fixed service)
// are unique per key; rows written in memory mode are not (keyed = false): the defect.
const schema = `
CREATE TABLE IF NOT EXISTS charges (
  id               bigserial PRIMARY KEY,
  idempotency_key  text,
  keyed            boolean NOT NULL DEFAULT true,
  reference        text NOT NULL,
  amount           numeric(14, 2) NOT NULL,
  currency         text NOT NULL,
  customer         text,
  run_id           text,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS charges_idempotency ON charges (idempotency_key) WHERE idempotency_key IS NOT NULL AND keyed;
CREATE INDEX IF NOT EXISTS charges_run ON charges (run_id);`

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("service", "acme-pay")
	listen := envOr("ACME_LISTEN", "127.0.0.1:8080")
	mode := envOr("ACME_IDEMPOTENCY", "db")
	if mode != "db" && mode != "memory" {
		log.Error("ACME_IDEMPOTENCY must be db or memory", "got", mode)
		os.Exit(2)
	}
	settleMs, err := strconv.Atoi(envOr("ACME_SETTLE_MS", "0"))
	if err != nil || settleMs < 0 {
		log.Error("ACME_SETTLE_MS must be a non-negative integer", "got", os.Getenv("ACME_SETTLE_MS"))
		os.Exit(2)
	}
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(envOr("ACME_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/acme"))
	if err != nil {
		log.Error("bad ACME_DATABASE_URL", "err", err)
		os.Exit(2)
	}
	cfg.MaxConns = 16
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		log.Error("database pool", "err", err)
		os.Exit(1)
	}
	// The database may still be starting (or restarting) when we are.
	for i := 0; ; i++ {
		_, err = db.Exec(ctx, schema)
		if err == nil {
			break
		}
		if i == 50 {
			log.Error("cannot prepare the schema", "err", err)
			os.Exit(1)
		}
		time.Sleep(200 * time.Millisecond)
	}
	s := &server{db: db, settle: time.Duration(settleMs) * time.Millisecond, log: log}
	if mode == "memory" {
		s.memory = &memoryKeys{done: map[string]charge{}, busy: map[string]chan struct{}{}}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/charges", s.charges)
	mux.HandleFunc("GET /healthz", s.healthz)
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		log.Error("listen", "addr", listen, "err", err)
		os.Exit(1)
	}
	if pidFile := os.Getenv("ACME_PID_FILE"); pidFile != "" {
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			log.Error("pid file", "path", pidFile, "err", err)
			os.Exit(1)
		}
	}
	log.Info("listening", "addr", listen, "idempotency", mode, "settle_ms", settleMs)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if err := srv.Serve(ln); err != nil && !strings.Contains(err.Error(), "closed") {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}
