-- create posts
-- parents: 20261101T090000_create_users

-- dbshift:up
CREATE TABLE posts (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL,
    title VARCHAR(200) NOT NULL,
    body TEXT,
    FOREIGN KEY (author_id) REFERENCES users (id)
);
CREATE INDEX ix_posts_author ON posts (author_id);

-- dbshift:down
DROP TABLE posts;
