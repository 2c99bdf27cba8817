"""Operand instances move from provisioning into their own app.

The tables stay as they are in this step (state only); 0002 renames them and moves the
content types, so audit entries keep pointing at their instances.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0002_notification'),
        ('clusters', '0001_initial'),
        ('provisioning', '0002_operandinstance_instancemetric_instancelog_and_more'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='OperandInstance',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('namespace', models.CharField(max_length=63, verbose_name='namespace')),
                        ('api_group', models.CharField(max_length=253)),
                        ('api_version', models.CharField(max_length=63)),
                        ('kind', models.CharField(max_length=63, verbose_name='kind')),
                        ('name', models.CharField(max_length=63, verbose_name='name')),
                        ('spec', models.JSONField(blank=True, default=dict)),
                        ('labels', models.JSONField(blank=True, default=dict)),
                        ('request_key', models.CharField(blank=True, max_length=100)),
                        ('origin', models.CharField(choices=[('operator', 'Operator page'), ('catalog', 'Service catalog'), ('api', 'API')], default='operator', max_length=10)),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('creating', 'Creating'), ('running', 'Running'), ('degraded', 'Degraded'), ('failed', 'Failed'), ('deleting', 'Deleting'), ('deleted', 'Deleted')], default='pending', max_length=10)),
                        ('failure_reason', models.TextField(blank=True)),
                        ('phase', models.CharField(blank=True, max_length=32, verbose_name='phase')),
                        ('status_message', models.TextField(blank=True)),
                        ('ready_replicas', models.PositiveIntegerField(blank=True, null=True)),
                        ('desired_replicas', models.PositiveIntegerField(blank=True, null=True)),
                        ('pods', models.JSONField(blank=True, default=list)),
                        ('services', models.JSONField(blank=True, default=list)),
                        ('settled', models.BooleanField(default=False)),
                        ('synced_at', models.DateTimeField(blank=True, null=True)),
                        ('enqueued_at', models.DateTimeField(blank=True, null=True)),
                        ('expose_requested', models.BooleanField(default=False, verbose_name='external access')),
                        ('access_state', models.CharField(choices=[('none', 'Only inside the cluster'), ('exposing', 'Opening external access'), ('exposed', 'Reachable from outside the cluster'), ('removing', 'Removing external access'), ('failed', 'External access failed')], default='none', max_length=10)),
                        ('access_type', models.CharField(blank=True, max_length=12)),
                        ('access_service', models.CharField(blank=True, max_length=63)),
                        ('access_host', models.CharField(blank=True, max_length=253)),
                        ('access_address', models.CharField(blank=True, max_length=300, verbose_name='service exit')),
                        ('access_error', models.TextField(blank=True)),
                        ('verify_running', models.BooleanField(default=False)),
                        ('verify_ok', models.BooleanField(blank=True, null=True)),
                        ('verify_message', models.TextField(blank=True)),
                        ('verify_address', models.CharField(blank=True, max_length=300)),
                        ('verify_ms', models.FloatField(blank=True, null=True)),
                        ('verified_at', models.DateTimeField(blank=True, null=True)),
                        ('stats_error', models.TextField(blank=True)),
                        ('stats_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('status_changed_at', models.DateTimeField(blank=True, null=True)),
                        ('running_at', models.DateTimeField(blank=True, null=True)),
                        ('deleted_at', models.DateTimeField(blank=True, null=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('cluster', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='instances', to='clusters.cluster')),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('installation', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='instances', to='provisioning.installation')),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='operand_instances', to='accounts.tenant')),
                    ],
                    options={
                        'db_table': 'provisioning_operandinstance',
                        'verbose_name': 'operand instance',
                        'verbose_name_plural': 'operand instances',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='InstanceMetric',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('time', models.DateTimeField()),
                        ('hits', models.BigIntegerField(default=0)),
                        ('misses', models.BigIntegerField(default=0)),
                        ('items', models.BigIntegerField(default=0)),
                        ('bytes', models.BigIntegerField(default=0)),
                        ('limit_maxbytes', models.BigIntegerField(default=0)),
                        ('curr_connections', models.IntegerField(default=0)),
                        ('evictions', models.BigIntegerField(default=0)),
                        ('uptime', models.BigIntegerField(default=0)),
                        ('instance', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='metrics', to='instances.operandinstance')),
                    ],
                    options={
                        'db_table': 'provisioning_instancemetric',
                        'ordering': ['time', 'id'],
                    },
                ),
                migrations.CreateModel(
                    name='InstanceLog',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('pod', models.CharField(max_length=253)),
                        ('container', models.CharField(blank=True, max_length=63)),
                        ('tail_lines', models.PositiveIntegerField(default=100)),
                        ('text', models.TextField(blank=True)),
                        ('error', models.TextField(blank=True)),
                        ('requested_at', models.DateTimeField()),
                        ('fetched_at', models.DateTimeField(blank=True, null=True)),
                        ('instance', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='logs', to='instances.operandinstance')),
                    ],
                    options={
                        'db_table': 'provisioning_instancelog',
                    },
                ),
                migrations.CreateModel(
                    name='InstanceEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('source', models.CharField(choices=[('platform', 'Platform'), ('cluster', 'Cluster')], default='platform', max_length=10)),
                        ('type', models.CharField(default='Normal', max_length=10)),
                        ('reason', models.CharField(max_length=100)),
                        ('message', models.TextField(blank=True)),
                        ('involved_object', models.CharField(blank=True, max_length=300)),
                        ('cluster_uid', models.CharField(blank=True, max_length=64)),
                        ('occurred_at', models.DateTimeField()),
                        ('instance', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='events', to='instances.operandinstance')),
                    ],
                    options={
                        'db_table': 'provisioning_instanceevent',
                        'ordering': ['-occurred_at', '-id'],
                    },
                ),
                migrations.AddIndex(
                    model_name='operandinstance',
                    index=models.Index(fields=['cluster', 'status', 'settled'], name='provisionin_cluster_176c03_idx'),
                ),
                migrations.AddConstraint(
                    model_name='operandinstance',
                    constraint=models.UniqueConstraint(condition=models.Q(('status', 'deleted'), _negated=True), fields=('cluster', 'namespace', 'kind', 'name'), name='operandinstance_one_live_per_name'),
                ),
                migrations.AddConstraint(
                    model_name='operandinstance',
                    constraint=models.UniqueConstraint(condition=models.Q(('request_key', ''), _negated=True), fields=('tenant', 'request_key'), name='operandinstance_unique_request_key'),
                ),
                migrations.AddConstraint(
                    model_name='operandinstance',
                    constraint=models.CheckConstraint(condition=models.Q(('status__in', ['pending', 'creating', 'running', 'degraded', 'failed', 'deleting', 'deleted'])), name='operandinstance_status_valid'),
                ),
                migrations.AddIndex(
                    model_name='instancemetric',
                    index=models.Index(fields=['instance', 'time'], name='provisionin_instanc_23a48b_idx'),
                ),
                migrations.AddIndex(
                    model_name='instancemetric',
                    index=models.Index(fields=['time'], name='provisionin_time_69d37b_idx'),
                ),
                migrations.AddConstraint(
                    model_name='instancelog',
                    constraint=models.UniqueConstraint(fields=('instance', 'pod', 'container'), name='instancelog_one_per_container'),
                ),
                migrations.AddConstraint(
                    model_name='instanceevent',
                    constraint=models.UniqueConstraint(condition=models.Q(('cluster_uid', ''), _negated=True), fields=('instance', 'cluster_uid'), name='instanceevent_unique_cluster_event'),
                ),
            ],
        ),
    ]
