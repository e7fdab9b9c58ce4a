"""usage records (append-only) and each resource's log input

Revision ID: c4d6e8f0a2b4
Revises: c3d5f7a9b1e2
Create Date: 2026-11-29 23:50:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c4d6e8f0a2b4'
down_revision = 'c3d5f7a9b1e2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('log_input_url_encrypted', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('log_drain_token', sa.String(length=255), nullable=True))

    op.create_table(
        'usage_records',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('resource_uuid', sa.String(length=36), nullable=False),
        sa.Column('addon', sa.String(length=64), nullable=False),
        sa.Column('plan', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('metric', sa.String(length=64), nullable=True),
        sa.Column('value', sa.Float(), nullable=True),
        sa.Column('unit', sa.String(length=32), nullable=True),
        sa.Column('limit', sa.Float(), nullable=True),
        sa.Column('corrects_id', sa.Integer(), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['corrects_id'], ['usage_records.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_usage_records_occurred_at', 'usage_records', ['occurred_at'])
    op.create_index('ix_usage_records_resource_uuid', 'usage_records', ['resource_uuid'])


def downgrade():
    op.drop_index('ix_usage_records_resource_uuid', table_name='usage_records')
    op.drop_index('ix_usage_records_occurred_at', table_name='usage_records')
    op.drop_table('usage_records')
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.drop_column('log_drain_token')
        batch_op.drop_column('log_input_url_encrypted')
