// Package fakeloyalty is an in-process loyalty service for the customer
// server: the server uses it in development when LOYALTY_API_URL is unset,
// and the scripted demo and the tests switch it down or slow it to show
// the breaker and the partial overview.
//
// It serves GET /v1/loyalty/{id} with a tier and points derived from the
// customer ID, so the same customer always gets the same answer.
package fakeloyalty
