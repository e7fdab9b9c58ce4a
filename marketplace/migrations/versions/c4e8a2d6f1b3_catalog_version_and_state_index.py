"""catalog version row (rendered catalog caches follow it) and the reconciler's state index

Revision ID: c4e8a2d6f1b3
Revises: b7d2e4f6a8c0
Create Date: 2026-12-01 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c4e8a2d6f1b3'
down_revision = 'b7d2e4f6a8c0'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'catalog_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.execute(
        "INSERT INTO catalog_versions (id, digest, changed_at) VALUES (1, '', CURRENT_TIMESTAMP)"
    )
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.create_index('ix_resources_state_step', ['state', 'step'])


def downgrade():
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.drop_index('ix_resources_state_step')
    op.drop_table('catalog_versions')
