// Package pgidem keeps idempotency keys in PostgreSQL, for servers that
// run several instances without Redis, or want keys to outlive a Redis
// restart.
//
// # What it does
//
// [Store] implements idempotency.Store and idempotency.Renewer on one
// table (by default idempotency_keys, created by [Store.CreateTable] or by
// the server's own migrations). Claiming a key is one INSERT … ON
// CONFLICT statement, so of many instances racing for a key exactly one
// wins; completing, renewing and releasing act only while the caller's
// token holds the key. Expiry runs on the database's clock, which every
// instance shares, and expired rows are swept as claims go by.
//
// # Where it sits
//
// Behind the idempotency layer, which sits after auth and inside the
// timeout (see package idempotency):
//
//	store, err := pgidem.New(pool, pgidem.Config{})
//	if err != nil { return err }
//	once, err := idempotency.New(store, idempotency.Config{})
//
// # On refusal
//
// The store refuses nothing itself. When PostgreSQL cannot be reached the
// idempotency layer refuses keyed calls as unavailable rather than run
// them unprotected, and a key stored before the outage replays after it.
package pgidem
