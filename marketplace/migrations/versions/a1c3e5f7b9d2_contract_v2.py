"""adapter contract v2: adapter state, app, links, background ticks, API tokens

Revision ID: a1c3e5f7b9d2
Revises: 7ed6b89c1ae0
Create Date: 2026-11-29 23:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a1c3e5f7b9d2'
down_revision = '7ed6b89c1ae0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('adapter_state_encrypted', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('app_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('app_name', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('condition', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('next_tick_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('api_token_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column('api_token_created_at', sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index('ix_resources_app_id', ['app_id'])
        batch_op.create_index('ix_resources_api_token_hash', ['api_token_hash'], unique=True)
        batch_op.create_index('ix_resources_next_tick_at', ['next_tick_at'])

    op.create_table(
        'resource_links',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('source_id', sa.String(length=36), nullable=False),
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('target_id', sa.String(length=36), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['source_id'], ['resources.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['target_id'], ['resources.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('source_id', 'name'),
    )
    op.create_index('ix_resource_links_target_id', 'resource_links', ['target_id'])


def downgrade():
    op.drop_index('ix_resource_links_target_id', table_name='resource_links')
    op.drop_table('resource_links')
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.drop_index('ix_resources_next_tick_at')
        batch_op.drop_index('ix_resources_api_token_hash')
        batch_op.drop_index('ix_resources_app_id')
        for column in (
            'api_token_created_at', 'api_token_hash', 'next_tick_at', 'condition', 'app_name',
            'app_id', 'adapter_state_encrypted',
        ):
            batch_op.drop_column(column)
