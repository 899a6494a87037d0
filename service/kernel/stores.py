"""Sessions and rate limits in Redis, guarded so that Redis going away degrades the service
instead of stopping it (issue 29).

Every Redis call goes through one ``RedisGuard`` per process:

- short timeouts and no retries with back-off: a Redis that does not answer costs a request
  at most ``CONNECT_TIMEOUT`` or ``REPLY_TIMEOUT``, never redis-py's default three retries
  with back-off (about 6 s per request, then a 500);
- a breaker: after a failure Redis is not asked again for ``COOLDOWN`` seconds, so during an
  outage requests do not each wait for a timeout; the first call after that tries again;
- one warning when an outage starts and one line when Redis answers again, and a counter
  (``on_unavailable``, the metric ``fangxin_redis_unavailable_total{use}``) of every store
  operation that went without Redis.

What each use does without Redis differs, so the stores do: ``GuardedStore`` (sessions)
raises ``StoreUnavailable``, which the session backend turns into "nobody is signed in" on
public pages and 503 on signed-in ones (service.kernel.security); ``FailOpenStore`` (rate
limits) falls back to this process's memory, so limits still hold per process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Final, Self, TypeVar

import structlog
from litestar.stores.base import NamespacedStore, Store
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

T = TypeVar("T")
log = structlog.get_logger("fangxin")

# Redis answers in well under a millisecond on a local network; a quarter of a second to
# connect and half a second per reply tell an outage from a busy moment without making a
# request wait long for it.
CONNECT_TIMEOUT: Final = 0.25
REPLY_TIMEOUT: Final = 0.5
COOLDOWN: Final = 5.0  # seconds without asking Redis after it failed
FALLBACK_SWEEP_EVERY: Final = 1000  # in-memory rate-limit writes between sweeps of expired ones
# What an outage looks like to redis-py: refused or reset connections, timeouts, a server
# still loading its data after a restart (BusyLoadingError is a ConnectionError).
OUTAGE: Final = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)


class StoreUnavailable(Exception):
    """Redis did not answer (or the breaker is open): this operation was not done."""


class RedisGuard:
    """One process's Redis client, its breaker and its outage reporting."""

    def __init__(
        self,
        url: str,
        *,
        on_unavailable: Callable[[str], None] = lambda use: None,
        cooldown: float = COOLDOWN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client: Redis = Redis.from_url(
            url,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=REPLY_TIMEOUT,
            # One immediate retry of a refused or closed connection, on a new one: after
            # Redis restarts, each pooled connection fails once as it is next used. None
            # after a timeout, which would only double the wait.
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            decode_responses=False,
        )
        self.on_unavailable = on_unavailable
        self.cooldown = cooldown
        self.clock = clock
        self.down_since: float | None = None
        self.failed_at = 0.0  # the breaker is open for ``cooldown`` seconds after this

    @property
    def down(self) -> bool:
        """Whether the last call failed and Redis has not answered since."""
        return self.down_since is not None

    async def call(self, use: str, operation: Callable[[], Awaitable[T]]) -> T:
        """Run one Redis operation for ``use`` ("sessions", "rate_limit"), or raise
        ``StoreUnavailable`` at once while the breaker is open."""
        if self.down and self.clock() - self.failed_at < self.cooldown:
            self.on_unavailable(use)
            raise StoreUnavailable("Redis is unavailable")
        try:
            result = await operation()
        except OUTAGE as exc:
            self._failed(use, exc)
            raise StoreUnavailable(f"Redis is unavailable: {type(exc).__name__}") from exc
        self._answered()
        return result

    async def ping(self) -> str | None:
        """Ask Redis now, breaker or not (the readiness check): None when it answers, or
        what went wrong."""
        try:
            await self.client.ping()
        except OUTAGE as exc:
            self._failed("readiness", exc)
            return f"{type(exc).__name__}: {exc}"
        self._answered()
        return None

    def _failed(self, use: str, exc: BaseException) -> None:
        now = self.clock()
        if self.down_since is None:
            self.down_since = now
            # Once per outage, not once per request.
            log.warning(
                "redis unavailable: sessions paused, rate limits per process",
                use=use,
                error=f"{type(exc).__name__}: {exc}",
                retry_in_seconds=self.cooldown,
            )
        self.failed_at = now
        self.on_unavailable(use)

    def _answered(self) -> None:
        if self.down_since is not None:
            log.info("redis available again", down_seconds=round(self.clock() - self.down_since, 1))
            self.down_since = None

    async def aclose(self) -> None:
        await self.client.aclose(close_connection_pool=True)


class GuardedStore(NamespacedStore):
    """A Redis store whose every operation goes through the guard: ``StoreUnavailable``
    when Redis cannot answer."""

    def __init__(self, guard: RedisGuard, use: str, namespace: str) -> None:
        self.guard = guard
        self.use = use
        self.namespace = namespace
        self.redis = RedisStore(guard.client, namespace=namespace)

    def with_namespace(self, namespace: str) -> Self:
        return type(self)(self.guard, self.use, f"{self.namespace}_{namespace}")

    async def set(
        self, key: str, value: str | bytes, expires_in: int | timedelta | None = None
    ) -> None:
        await self.guard.call(self.use, lambda: self.redis.set(key, value, expires_in))

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        return await self.guard.call(self.use, lambda: self.redis.get(key, renew_for))

    async def delete(self, key: str) -> None:
        await self.guard.call(self.use, lambda: self.redis.delete(key))

    async def delete_all(self) -> None:
        await self.guard.call(self.use, self.redis.delete_all)

    async def exists(self, key: str) -> bool:
        return await self.guard.call(self.use, lambda: self.redis.exists(key))

    async def expires_in(self, key: str) -> int | None:
        return await self.guard.call(self.use, lambda: self.redis.expires_in(key))


class FailOpenStore(Store):
    """Redis, or this process's memory while Redis is unavailable: for rate limits, where a
    per-process limit is far better than none and than refusing every request."""

    def __init__(self, primary: GuardedStore) -> None:
        self.primary = primary
        self.fallback = MemoryStore()
        self._fallback_writes = 0

    async def _either(
        self, on_redis: Callable[[], Awaitable[T]], in_memory: Callable[[], Awaitable[T]]
    ) -> T:
        try:
            return await on_redis()
        except StoreUnavailable:
            return await in_memory()

    async def set(
        self, key: str, value: str | bytes, expires_in: int | timedelta | None = None
    ) -> None:
        await self._either(
            lambda: self.primary.set(key, value, expires_in),
            lambda: self._set_in_memory(key, value, expires_in),
        )

    async def _set_in_memory(
        self, key: str, value: str | bytes, expires_in: int | timedelta | None
    ) -> None:
        # MemoryStore forgets an expired entry only when it is read again: during a long
        # outage, clients that never come back would pile up without this sweep.
        self._fallback_writes += 1
        if self._fallback_writes % FALLBACK_SWEEP_EVERY == 0:
            await self.fallback.delete_expired()
        await self.fallback.set(key, value, expires_in)

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        return await self._either(
            lambda: self.primary.get(key, renew_for), lambda: self.fallback.get(key, renew_for)
        )

    async def delete(self, key: str) -> None:
        await self.fallback.delete(key)
        await self._either(lambda: self.primary.delete(key), _nothing)

    async def delete_all(self) -> None:
        await self.fallback.delete_all()
        await self._either(self.primary.delete_all, _nothing)

    async def exists(self, key: str) -> bool:
        return await self._either(
            lambda: self.primary.exists(key), lambda: self.fallback.exists(key)
        )

    async def expires_in(self, key: str) -> int | None:
        return await self._either(
            lambda: self.primary.expires_in(key), lambda: self.fallback.expires_in(key)
        )


async def _nothing() -> None:
    return None


def redis_stores(url: str, on_unavailable: Callable[[str], None]) -> dict[str, Store]:
    """The application's stores on Redis: sessions (guarded) and rate limits (fail open)."""
    guard = RedisGuard(url, on_unavailable=on_unavailable)
    return {
        "sessions": GuardedStore(guard, "sessions", "fangxin_sessions"),
        "rate_limit": FailOpenStore(GuardedStore(guard, "rate_limit", "fangxin_rate_limit")),
    }


def guard_of(store: Store | None) -> RedisGuard | None:
    """The Redis guard behind one of ``redis_stores``' stores, if it is one."""
    if isinstance(store, FailOpenStore):
        store = store.primary
    return store.guard if isinstance(store, GuardedStore) else None
