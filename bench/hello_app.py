"""The baseline of bench_gateway_load.py: a bare FastAPI app with one JSON endpoint."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}
