"""external objects: odata_services (credentials, shared tables, rate window)

Revision ID: b7d2e4f6a8c0
Revises: a1c3e5f7b9d2
Create Date: 2026-11-30 00:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b7d2e4f6a8c0'
down_revision = 'a1c3e5f7b9d2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'odata_services',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('service_id', sa.String(length=32), nullable=False),
        sa.Column('resource_id', sa.String(length=36), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('username', sa.String(length=32), nullable=True),
        sa.Column('password_hash', sa.String(length=255), nullable=True),
        sa.Column('previous_password_hash', sa.String(length=255), nullable=True),
        sa.Column('previous_expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('tables', sa.JSON(), nullable=False),
        sa.Column('window_start', sa.DateTime(timezone=True), nullable=True),
        sa.Column('window_count', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('service_id'),
        sa.UniqueConstraint('resource_id'),
    )


def downgrade():
    op.drop_table('odata_services')
