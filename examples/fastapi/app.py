"""A small FastAPI application whose database dbshift migrates at start-up.

`uvicorn app:app` (README.md beside this file). The database is `DATABASE_URL`, an
async URL (default: `sqlite+aiosqlite:///heroes.db`), or the engine given to
`create_app` (tests). The lifespan applies the migrations of `migrations/` through the
application's own engine before the first request; with several workers
(`uvicorn --workers 4`) each worker does, one at a time under dbshift's runner lock:
the first applies them, the others find nothing left to do.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from models import Hero, HeroCreate, Team
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlmodel import select

import dbshift
import dbshift.aio

HERE = Path(__file__).parent


def create_app(engine: AsyncEngine | None = None) -> FastAPI:
    if engine is None:
        engine = create_async_engine(
            os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///heroes.db")
        )
    # dbshift.toml's settings (the migrations folder, the models), on the app's own engine
    migrations = dbshift.Config.load(HERE / "dbshift.toml").replace(url=engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await dbshift.aio.upgrade(migrations)
        yield
        await engine.dispose()

    app = FastAPI(title="heroes", lifespan=lifespan)
    app.state.migrations = migrations
    app.state.sessions = async_sessionmaker(engine, expire_on_commit=False)
    app.include_router(router)
    return app


async def session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as opened:
        yield opened


Session = Annotated[AsyncSession, Depends(session)]
router = APIRouter()


@router.get("/health")
async def health(request: Request) -> dict[str, str]:
    status = await dbshift.aio.status(request.app.state.migrations)
    return {"schema": ", ".join(status.current) or "empty", "pending": str(len(status.pending))}


@router.post("/teams", status_code=201)
async def create_team(team: Team, db: Session) -> Team:
    db.add(team)
    await db.commit()
    await db.refresh(team)
    return team


@router.post("/heroes", status_code=201)
async def create_hero(hero: HeroCreate, db: Session) -> Hero:
    if hero.team_id is not None and await db.get(Team, hero.team_id) is None:
        raise HTTPException(404, f"no team {hero.team_id}")
    row = Hero.model_validate(hero)
    db.add(row)
    await db.commit()
    await db.refresh(row)
    return row


@router.get("/heroes")
async def list_heroes(db: Session, team_id: int | None = None) -> list[Hero]:
    query = select(Hero).order_by(Hero.id)  # type: ignore[arg-type]
    if team_id is not None:
        query = query.where(Hero.team_id == team_id)
    return list((await db.execute(query)).scalars())


@router.get("/heroes/{hero_id}")
async def get_hero(hero_id: int, db: Session) -> Hero:
    hero = await db.get(Hero, hero_id)
    if hero is None:
        raise HTTPException(404, f"no hero {hero_id}")
    return hero


app = create_app()
