"""What goes over the wire: a request sent within its bounds and recorded as an exchange (with its curl, and the key
never in it), SSE decoding, lenient readers of answers, latency figures, running coroutines from synchronous code."""
