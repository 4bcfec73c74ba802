"""redis.asyncio against a real redis-server and asyncpg against a real
PostgreSQL, both started by tests/ecosystem/conftest.py (skipped, with the
reason, when the servers are not installed)."""

import asyncio

import pytest


def test_redis(run, impl, redis_port):
    redis = pytest.importorskip("redis.asyncio", reason="redis is not installed")

    async def main():
        client = redis.Redis(host="127.0.0.1", port=redis_port, max_connections=200)
        key = f"casyncio-test:{impl}"
        try:
            await client.delete(key, f"{key}:n")
            await client.set(key, "value", ex=60)
            got = await client.get(key)
            # 200 commands at once over the connection pool.
            counts = await asyncio.gather(
                *(client.incr(f"{key}:n") for _ in range(200))
            )
            async with client.pipeline(transaction=True) as pipe:
                piped = await pipe.incr(f"{key}:n").get(key).execute()
            pubsub = client.pubsub()
            await pubsub.subscribe(f"{key}:ch")
            await client.publish(f"{key}:ch", "hello")
            message = None
            while message is None or message["type"] != "message":
                message = await pubsub.get_message(timeout=5)
            await pubsub.aclose()
            return got, sorted(counts), piped, message["data"]
        finally:
            await client.aclose()

    got, counts, piped, data = run(main())
    assert got == b"value"
    assert counts == list(range(1, 201))
    assert piped == [201, b"value"]
    assert data == b"hello"


def test_asyncpg(run, impl, postgres_port):
    asyncpg = pytest.importorskip("asyncpg", reason="asyncpg is not installed")
    dsn = f"postgresql://postgres@127.0.0.1:{postgres_port}/postgres"
    table = f"items_{impl}"

    async def main():
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f"DROP TABLE IF EXISTS {table}")
            await conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, name text)")
            await conn.executemany(
                f"INSERT INTO {table} VALUES ($1, $2)",
                [(i, f"n{i}") for i in range(100)],
            )
            try:
                async with conn.transaction():
                    await conn.execute(f"INSERT INTO {table} VALUES (1000, 'x')")
                    raise RuntimeError("roll back")
            except RuntimeError:
                pass
            count = await conn.fetchval(f"SELECT count(*) FROM {table}")
            stmt = await conn.prepare(f"SELECT name FROM {table} WHERE id = $1")
            names = [await stmt.fetchval(i) for i in (3, 42)]
            async with conn.transaction():
                ids = [r["id"] async for r in conn.cursor(f"SELECT id FROM {table}")]
            notified = asyncio.get_running_loop().create_future()
            await conn.add_listener("ch", lambda *a: notified.set_result(a[3]))
            await conn.execute("NOTIFY ch, 'payload'")
            payload = await asyncio.wait_for(notified, 5)
        finally:
            await conn.close()
        async with asyncpg.create_pool(dsn, min_size=2, max_size=5) as pool:
            sums = await asyncio.gather(
                *(
                    pool.fetchval("SELECT $1::int FROM pg_sleep(0.01)", i)
                    for i in range(20)
                )
            )
        return count, names, sorted(ids), payload, sums

    count, names, ids, payload, sums = run(main())
    assert count == 100
    assert names == ["n3", "n42"]
    assert ids == list(range(100))
    assert payload == "payload"
    assert sums == list(range(20))
