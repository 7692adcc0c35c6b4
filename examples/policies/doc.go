// Package policies holds example route tables for gatehouse in front of real
// applications — duplistatus, Kirby and Umbraco — as configuration files in
// this directory, and the tests that check every endpoint those
// applications' documentation lists against them. See README.md.
package policies
