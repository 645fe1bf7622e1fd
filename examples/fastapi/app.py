"""A small FastAPI application whose database dbshift migrates at start-up.

`uvicorn app:app` (README.md beside this file). The database is `DATABASE_URL`, an
async URL (default: `sqlite+aiosqlite:///heroes.db`); the lifespan below applies the
migrations of `migrations/` through the application's own engine before the first
request, and with several workers (`uvicorn --workers 4`) each worker does, one at a
time under dbshift's runner lock: the first applies them, the others find nothing to do.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException
from models import Hero, HeroCreate, Team
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlmodel import select

import dbshift
import dbshift.aio

HERE = Path(__file__).parent
engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///heroes.db"))
sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
# dbshift.toml's settings (the migrations folder, the models), on the app's own engine
migrations = dbshift.Config.load(HERE / "dbshift.toml").replace(url=engine)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await dbshift.aio.upgrade(migrations)
    yield
    await engine.dispose()


app = FastAPI(title="heroes", lifespan=lifespan)


@app.get("/health")
async def health() -> dict[str, str]:
    status = await dbshift.aio.status(migrations)
    return {"schema": ", ".join(status.current) or "empty", "pending": str(len(status.pending))}


@app.post("/teams", status_code=201)
async def create_team(team: Team) -> Team:
    async with sessions() as session:
        session.add(team)
        await session.commit()
        await session.refresh(team)
        return team


@app.post("/heroes", status_code=201)
async def create_hero(hero: HeroCreate) -> Hero:
    async with sessions() as session:
        if hero.team_id is not None and await session.get(Team, hero.team_id) is None:
            raise HTTPException(404, f"no team {hero.team_id}")
        row = Hero.model_validate(hero)
        session.add(row)
        await session.commit()
        await session.refresh(row)
        return row


@app.get("/heroes")
async def list_heroes(team_id: int | None = None) -> list[Hero]:
    query = select(Hero).order_by(Hero.id)  # type: ignore[arg-type]
    if team_id is not None:
        query = query.where(Hero.team_id == team_id)
    async with sessions() as session:
        return list((await session.execute(query)).scalars())


@app.get("/heroes/{hero_id}")
async def get_hero(hero_id: int) -> Hero:
    async with sessions() as session:
        hero = await session.get(Hero, hero_id)
        if hero is None:
            raise HTTPException(404, f"no hero {hero_id}")
        return hero
