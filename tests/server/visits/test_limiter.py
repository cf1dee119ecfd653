"""The failure limiter: counts only failures, per address (IPv6 per /64), in a sliding window."""

from __future__ import annotations

from server.visits.limiter import FailureLimiter, address_key


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_refuses_after_the_limit_until_failures_age_out() -> None:
    clock = FakeClock()
    limiter = FailureLimiter(limit=3, window=60, clock=clock)
    for _ in range(3):
        assert limiter.check("192.0.2.1").allowed
        limiter.fail("192.0.2.1")
        clock.now += 10
    verdict = limiter.check("192.0.2.1")
    assert not verdict.allowed and verdict.retry_after == 30  # the first failure leaves the window at 1060
    assert limiter.check("192.0.2.2").allowed
    clock.now = 1060.5
    assert limiter.check("192.0.2.1").allowed
    clock.now = 2000
    assert limiter.check("192.0.2.1").allowed and limiter.tracked() == 0


def test_memory_is_bounded() -> None:
    limiter = FailureLimiter(limit=2, window=60, max_addresses=100, clock=FakeClock())
    for n in range(1000):
        limiter.fail(f"10.0.{n // 256}.{n % 256}")
    assert limiter.tracked() == 100


def test_address_keys() -> None:
    assert address_key("198.51.100.7") == "198.51.100.7"
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:198.51.100.7") == "198.51.100.7"
    assert address_key(None) == "unknown" and address_key("testclient") == "testclient"
