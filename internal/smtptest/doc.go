// Package smtptest runs fake MX servers on loopback addresses for tests.
// Nothing in it ever listens on, or connects to, an address outside
// 127.0.0.0/8.
//
// There are two kinds of fake:
//
//   - Server (Start, Serve) is a real SMTP server built on
//     github.com/emersion/go-smtp. Each recipient gets its own reply
//     (Options.Replies, Options.Default, Options.Rcpt), and the server can
//     offer STARTTLS with a certificate made on the fly, advertise SMTPUTF8,
//     limit recipients per transaction, hang up after so many RCPTs as
//     Postfix does after too many errors, and turn away connections that
//     come too fast with a 421 banner.
//   - RawServer (StartRaw, ServeRaw) writes its replies by hand, for the
//     behaviours a well-mannered library will not produce: a tarpit that
//     never greets, a 421 or 554 banner, a hang-up right after EHLO, a
//     server that only knows HELO, replies that never end, and a server
//     that sends a reply nobody asked for.
//
// Every fake is a DATA tripwire: if a client ever sends DATA (or BDAT), the
// test fails with "fake SMTP server received DATA". The probe must never
// start delivering a message.
//
// The probe uses one port for every MX host, so tests that need several
// hosts bind several loopback addresses (127.0.0.2, 127.0.0.3, ...) on one
// port with Listen, then hand the listeners to Serve or ServeRaw. Linux
// routes all of 127.0.0.0/8 to the loopback interface, so this needs no
// setup.
//
// A Server can simulate a network's round trip (Options.RTT): its replies
// reach the client that much later, so a flight of pipelined commands
// costs one round trip and commands sent one by one cost one each. It is
// also a pipelining tripwire (RFC 2920), in plain text: a command sent
// before the reply to the banner, EHLO, STARTTLS, NOOP or QUIT, or before
// any earlier reply when PIPELINING was not offered (Options.NoPipelining
// hides it), fails the test. A RawServer never offers PIPELINING, and
// fails the test when a command comes before the reply to the one before.
//
// Servers are closed by t.Cleanup; Close may also be called earlier.
package smtptest
