"""data connectors: change data capture from a Postgres resource into a Kafka resource

Revision ID: c3d5f7a9b1e2
Revises: c4e8a2d6f1b3
Create Date: 2026-11-30 00:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c3d5f7a9b1e2'
down_revision = 'c4e8a2d6f1b3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'data_connectors',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('postgres_resource_id', sa.String(length=36), nullable=False),
        sa.Column('kafka_resource_id', sa.String(length=36), nullable=False),
        sa.Column('tables', sa.JSON(), nullable=False),
        sa.Column('excluded_columns', sa.JSON(), nullable=False),
        sa.Column('settings', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('status_reason', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('deprovisioned_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['postgres_resource_id'], ['resources.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['kafka_resource_id'], ['resources.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(
        'ix_data_connectors_postgres_resource_id', 'data_connectors', ['postgres_resource_id']
    )
    op.create_index('ix_data_connectors_kafka_resource_id', 'data_connectors', ['kafka_resource_id'])


def downgrade():
    op.drop_index('ix_data_connectors_kafka_resource_id', table_name='data_connectors')
    op.drop_index('ix_data_connectors_postgres_resource_id', table_name='data_connectors')
    op.drop_table('data_connectors')
