/* admin-check: drives the mock's admin APIs with librdkafka's own admin client, which picks the
 * newest versions (the flexible ones: DeleteTopics v4, CreatePartitions v2, AlterConfigs v2,
 * ListGroups v5, DescribeGroups v5, DeleteGroups v2, DeleteRecords v2, ListOffsets v7) where
 * kafkajs picks old ones. A second, independent client checks the encodings kafkajs never
 * exercises, and ListOffsets by timestamp inside lz4 and snappy batches (kafkajs only has gzip).
 *
 * build: gcc -O2 -I<out>/rdk/include -o admin-check admin-check.c -L<out>/rdk/lib \
 *            -Wl,-rpath,<out>/rdk/lib -lrdkafka
 * usage: admin-check <bootstrap> <unique-prefix>   (prints "ok" and exits 0, or "FAIL ..." / 1)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <librdkafka/rdkafka.h>

static const char *bootstrap, *prefix;
static char topic[256], group[256], group2[256];
static rd_kafka_t *rk;
static rd_kafka_queue_t *q;

#define FAIL(...)                                                              \
        do {                                                                   \
                printf("FAIL line %d: ", __LINE__);                            \
                printf(__VA_ARGS__);                                           \
                printf("\n");                                                  \
                exit(1);                                                       \
        } while (0)
#define CHECK(cond, ...)                                                       \
        do {                                                                   \
                if (!(cond))                                                   \
                        FAIL(__VA_ARGS__);                                     \
        } while (0)

static rd_kafka_event_t *wait_result(rd_kafka_event_type_t type) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 20000);
        CHECK(ev, "no admin result within 20 s");
        CHECK(rd_kafka_event_type(ev) == type, "unexpected event %s: %s",
              rd_kafka_event_name(ev), rd_kafka_event_error_string(ev));
        CHECK(!rd_kafka_event_error(ev), "%s: %s", rd_kafka_event_name(ev),
              rd_kafka_event_error_string(ev));
        return ev;
}

static rd_kafka_AdminOptions_t *opts(rd_kafka_admin_op_t op) {
        char err[256];
        rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, op);
        rd_kafka_AdminOptions_set_request_timeout(o, 15000, err, sizeof(err));
        return o;
}

static int partition_cnt(const char *t) {
        const struct rd_kafka_metadata *md;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, t, NULL);
        int n                 = -1;
        if (!rd_kafka_metadata(rk, 0, rkt, &md, 10000)) {
                if (md->topic_cnt == 1 && !md->topics[0].err)
                        n = md->topics[0].partition_cnt;
                rd_kafka_metadata_destroy(md);
        }
        rd_kafka_topic_destroy(rkt);
        return n;
}

/* value and is_default of a topic config, via DescribeConfigs */
static int describe_config(const char *name, char *value, size_t vsize) {
        rd_kafka_ConfigResource_t *res =
            rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
        rd_kafka_event_t *ev;
        const rd_kafka_ConfigResource_t **rs;
        const rd_kafka_ConfigEntry_t **es;
        size_t rcnt, ecnt, i;
        int is_default = -1;
        rd_kafka_DescribeConfigs(rk, &res, 1,
                                 opts(RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS), q);
        ev = wait_result(RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT);
        rs = rd_kafka_DescribeConfigs_result_resources(
            rd_kafka_event_DescribeConfigs_result(ev), &rcnt);
        CHECK(rcnt == 1 && !rd_kafka_ConfigResource_error(rs[0]),
              "DescribeConfigs: %s", rd_kafka_ConfigResource_error_string(rs[0]));
        es = rd_kafka_ConfigResource_configs(rs[0], &ecnt);
        for (i = 0; i < ecnt; i++) {
                if (strcmp(rd_kafka_ConfigEntry_name(es[i]), name))
                        continue;
                snprintf(value, vsize, "%s", rd_kafka_ConfigEntry_value(es[i]));
                is_default = rd_kafka_ConfigEntry_is_default(es[i]);
        }
        rd_kafka_event_destroy(ev);
        rd_kafka_ConfigResource_destroy(res);
        return is_default;
}

/* state of a group per DescribeConsumerGroups (v5, flexible) and its member count */
static rd_kafka_consumer_group_state_t describe_group(const char *g,
                                                      int *member_cnt,
                                                      int *assigned) {
        rd_kafka_event_t *ev;
        const rd_kafka_ConsumerGroupDescription_t **ds;
        size_t cnt;
        rd_kafka_consumer_group_state_t st;
        rd_kafka_DescribeConsumerGroups(
            rk, &g, 1, opts(RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS), q);
        ev = wait_result(RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT);
        ds = rd_kafka_DescribeConsumerGroups_result_groups(
            rd_kafka_event_DescribeConsumerGroups_result(ev), &cnt);
        CHECK(cnt == 1, "DescribeConsumerGroups: %zu groups", cnt);
        CHECK(!rd_kafka_ConsumerGroupDescription_error(ds[0]),
              "DescribeConsumerGroups %s: %s", g,
              rd_kafka_error_string(rd_kafka_ConsumerGroupDescription_error(ds[0])));
        st          = rd_kafka_ConsumerGroupDescription_state(ds[0]);
        *member_cnt = (int)rd_kafka_ConsumerGroupDescription_member_count(ds[0]);
        *assigned   = 0;
        if (*member_cnt > 0) {
                const rd_kafka_MemberDescription_t *m =
                    rd_kafka_ConsumerGroupDescription_member(ds[0], 0);
                const rd_kafka_topic_partition_list_t *a =
                    rd_kafka_MemberAssignment_partitions(
                        rd_kafka_MemberDescription_assignment(m));
                *assigned = a ? a->cnt : 0;
                CHECK(!strcmp(rd_kafka_MemberDescription_client_id(m),
                              "admin-check-consumer"),
                      "member client id %s",
                      rd_kafka_MemberDescription_client_id(m));
        }
        rd_kafka_event_destroy(ev);
        return st;
}

static int listed(const char *g, rd_kafka_consumer_group_state_t *state) {
        rd_kafka_event_t *ev;
        const rd_kafka_ConsumerGroupListing_t **ls;
        size_t cnt, i;
        int found = 0;
        rd_kafka_ListConsumerGroups(rk, opts(RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS),
                                    q);
        ev = wait_result(RD_KAFKA_EVENT_LISTCONSUMERGROUPS_RESULT);
        ls = rd_kafka_ListConsumerGroups_result_valid(
            rd_kafka_event_ListConsumerGroups_result(ev), &cnt);
        for (i = 0; i < cnt; i++)
                if (!strcmp(rd_kafka_ConsumerGroupListing_group_id(ls[i]), g)) {
                        found  = 1;
                        *state = rd_kafka_ConsumerGroupListing_state(ls[i]);
                }
        rd_kafka_event_destroy(ev);
        return found;
}

static int64_t offset_for_partition(int32_t partition, int64_t spec, int64_t *ts) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_event_t *ev;
        const rd_kafka_ListOffsetsResultInfo_t **ri;
        size_t cnt;
        int64_t off;
        rd_kafka_topic_partition_list_add(l, topic, partition)->offset = spec;
        rd_kafka_ListOffsets(rk, l, opts(RD_KAFKA_ADMIN_OP_LISTOFFSETS), q);
        ev = wait_result(RD_KAFKA_EVENT_LISTOFFSETS_RESULT);
        ri = rd_kafka_ListOffsets_result_infos(
            rd_kafka_event_ListOffsets_result(ev), &cnt);
        CHECK(cnt == 1, "ListOffsets: %zu results", cnt);
        off = rd_kafka_ListOffsetsResultInfo_topic_partition(ri[0])->offset;
        CHECK(!rd_kafka_ListOffsetsResultInfo_topic_partition(ri[0])->err,
              "ListOffsets: %s",
              rd_kafka_err2str(
                  rd_kafka_ListOffsetsResultInfo_topic_partition(ri[0])->err));
        *ts = rd_kafka_ListOffsetsResultInfo_timestamp(ri[0]);
        rd_kafka_event_destroy(ev);
        rd_kafka_topic_partition_list_destroy(l);
        return off;
}

static int64_t offset_for(int64_t spec, int64_t *ts) {
        return offset_for_partition(0, spec, ts);
}

int main(int argc, char **argv) {
        char err[512], val[256];
        rd_kafka_conf_t *conf;
        rd_kafka_event_t *ev;
        size_t cnt;
        int i, mcnt, assigned;
        int64_t ts;
        rd_kafka_consumer_group_state_t st;

        if (argc < 3) {
                fprintf(stderr, "usage: admin-check <bootstrap> <prefix>\n");
                return 2;
        }
        bootstrap = argv[1];
        prefix    = argv[2];
        snprintf(topic, sizeof(topic), "%s-t", prefix);
        snprintf(group, sizeof(group), "%s-g", prefix);
        snprintf(group2, sizeof(group2), "%s-g2", prefix);

        conf = rd_kafka_conf_new();
        rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err));
        rd_kafka_conf_set(conf, "allow.auto.create.topics", "false", err,
                          sizeof(err));
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        CHECK(rk, "%s", err);
        q = rd_kafka_queue_new(rk);

        /* CreateTopics (v4) with a config; a duplicate is TOPIC_ALREADY_EXISTS */
        for (i = 0; i < 2; i++) {
                rd_kafka_NewTopic_t *nt =
                    rd_kafka_NewTopic_new(topic, 3, 1, err, sizeof(err));
                const rd_kafka_topic_result_t **tr;
                rd_kafka_NewTopic_set_config(nt, "retention.ms", "1000");
                rd_kafka_CreateTopics(rk, &nt, 1,
                                      opts(RD_KAFKA_ADMIN_OP_CREATETOPICS), q);
                ev = wait_result(RD_KAFKA_EVENT_CREATETOPICS_RESULT);
                tr = rd_kafka_CreateTopics_result_topics(
                    rd_kafka_event_CreateTopics_result(ev), &cnt);
                CHECK(cnt == 1 && rd_kafka_topic_result_error(tr[0]) ==
                                      (i == 0 ? RD_KAFKA_RESP_ERR_NO_ERROR
                                              : RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS),
                      "CreateTopics #%d: %s", i,
                      rd_kafka_err2name(rd_kafka_topic_result_error(tr[0])));
                rd_kafka_event_destroy(ev);
                rd_kafka_NewTopic_destroy(nt);
        }
        CHECK(partition_cnt(topic) == 3, "partitions %d", partition_cnt(topic));

        /* DescribeConfigs (v1) */
        CHECK(describe_config("retention.ms", val, sizeof(val)) == 0 &&
                  !strcmp(val, "1000"),
              "retention.ms %s", val);
        CHECK(describe_config("cleanup.policy", val, sizeof(val)) == 1 &&
                  !strcmp(val, "delete"),
              "cleanup.policy %s", val);

        /* AlterConfigs (v2, flexible): replaces the topic's configs */
        {
                rd_kafka_ConfigResource_t *res =
                    rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
                rd_kafka_ConfigResource_set_config(res, "cleanup.policy",
                                                   "compact");
                rd_kafka_AlterConfigs(rk, &res, 1,
                                      opts(RD_KAFKA_ADMIN_OP_ALTERCONFIGS), q);
                ev = wait_result(RD_KAFKA_EVENT_ALTERCONFIGS_RESULT);
                {
                        const rd_kafka_ConfigResource_t **rs =
                            rd_kafka_AlterConfigs_result_resources(
                                rd_kafka_event_AlterConfigs_result(ev), &cnt);
                        CHECK(cnt == 1 && !rd_kafka_ConfigResource_error(rs[0]),
                              "AlterConfigs: %s",
                              rd_kafka_ConfigResource_error_string(rs[0]));
                }
                rd_kafka_event_destroy(ev);
                rd_kafka_ConfigResource_destroy(res);
        }
        CHECK(describe_config("cleanup.policy", val, sizeof(val)) == 0 &&
                  !strcmp(val, "compact"),
              "cleanup.policy after alter %s", val);
        CHECK(describe_config("retention.ms", val, sizeof(val)) == 1,
              "retention.ms after alter %s", val);

        /* CreatePartitions (v2, flexible) */
        {
                rd_kafka_NewPartitions_t *np =
                    rd_kafka_NewPartitions_new(topic, 5, err, sizeof(err));
                const rd_kafka_topic_result_t **tr;
                rd_kafka_CreatePartitions(
                    rk, &np, 1, opts(RD_KAFKA_ADMIN_OP_CREATEPARTITIONS), q);
                ev = wait_result(RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT);
                tr = rd_kafka_CreatePartitions_result_topics(
                    rd_kafka_event_CreatePartitions_result(ev), &cnt);
                CHECK(cnt == 1 && !rd_kafka_topic_result_error(tr[0]),
                      "CreatePartitions: %s",
                      rd_kafka_topic_result_error_string(tr[0]));
                rd_kafka_event_destroy(ev);
                rd_kafka_NewPartitions_destroy(np);
        }
        CHECK(partition_cnt(topic) == 5, "partitions after grow %d",
              partition_cnt(topic));

        /* records with chosen timestamps in partition 0: 1000, 3000, 2000 */
        {
                int64_t tss[] = {1000, 3000, 2000};
                for (i = 0; i < 3; i++)
                        CHECK(!rd_kafka_producev(
                                  rk, RD_KAFKA_V_TOPIC(topic),
                                  RD_KAFKA_V_PARTITION(0),
                                  RD_KAFKA_V_VALUE("v", 1),
                                  RD_KAFKA_V_TIMESTAMP(tss[i]), RD_KAFKA_V_END),
                              "produce");
                CHECK(!rd_kafka_flush(rk, 10000), "flush");
        }
        /* lz4 and snappy batches (one batch each: the records are produced
         * together), timestamps out of order inside the batch:
         * partition 1 (lz4) and 2 (snappy): 1000, 3000, 2000 */
        {
                const char *codecs[] = {"lz4", "snappy"};
                int c;
                for (c = 0; c < 2; c++) {
                        rd_kafka_conf_t *pc = rd_kafka_conf_new();
                        rd_kafka_t *p;
                        int64_t tss[] = {1000, 3000, 2000};
                        rd_kafka_conf_set(pc, "bootstrap.servers", bootstrap, err,
                                          sizeof(err));
                        rd_kafka_conf_set(pc, "compression.codec", codecs[c], err,
                                          sizeof(err));
                        rd_kafka_conf_set(pc, "linger.ms", "100", err, sizeof(err));
                        p = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof(err));
                        CHECK(p, "%s", err);
                        for (i = 0; i < 3; i++)
                                CHECK(!rd_kafka_producev(
                                          p, RD_KAFKA_V_TOPIC(topic),
                                          RD_KAFKA_V_PARTITION(1 + c),
                                          RD_KAFKA_V_VALUE("compressible compressible "
                                                           "compressible",
                                                           38),
                                          RD_KAFKA_V_TIMESTAMP(tss[i]),
                                          RD_KAFKA_V_END),
                                      "produce %s", codecs[c]);
                        CHECK(!rd_kafka_flush(p, 10000), "flush %s", codecs[c]);
                        rd_kafka_destroy(p);
                }
        }
        CHECK(offset_for_partition(1, 1500, &ts) == 1 && ts == 3000,
              "lz4: offset for 1500: ts %lld", (long long)ts);
        CHECK(offset_for_partition(2, 1500, &ts) == 1 && ts == 3000,
              "snappy: offset for 1500: ts %lld", (long long)ts);
        CHECK(offset_for_partition(1, 2500, &ts) == 1 &&
                  offset_for_partition(2, 3001, &ts) == -1,
              "compressed: 2500 / 3001");
        CHECK(offset_for_partition(2, RD_KAFKA_OFFSET_SPEC_MAX_TIMESTAMP, &ts) == 1 &&
                  ts == 3000,
              "snappy: max timestamp");

        /* ListOffsets (v7, flexible): by timestamp and max timestamp */
        CHECK(offset_for((1500), &ts) == 1 && ts == 3000,
              "offset for 1500: ts %lld", (long long)ts);
        CHECK(offset_for((RD_KAFKA_OFFSET_SPEC_MAX_TIMESTAMP),
                         &ts) == 1 &&
                  ts == 3000,
              "max timestamp: ts %lld", (long long)ts);
        CHECK(offset_for((5000), &ts) == -1,
              "offset for 5000");
        CHECK(offset_for((RD_KAFKA_OFFSET_SPEC_LATEST),
                         &ts) == 3,
              "latest");

        /* DeleteRecords (v2, flexible): the log start moves to 2; a lookup
         * by timestamp then only sees offsets from 2 on */
        {
                rd_kafka_topic_partition_list_t *l =
                    rd_kafka_topic_partition_list_new(1);
                rd_kafka_DeleteRecords_t *dr;
                const rd_kafka_topic_partition_list_t *res;
                rd_kafka_topic_partition_list_add(l, topic, 0)->offset = 2;
                dr = rd_kafka_DeleteRecords_new(l);
                rd_kafka_DeleteRecords(rk, &dr, 1,
                                       opts(RD_KAFKA_ADMIN_OP_DELETERECORDS), q);
                ev  = wait_result(RD_KAFKA_EVENT_DELETERECORDS_RESULT);
                res = rd_kafka_DeleteRecords_result_offsets(
                    rd_kafka_event_DeleteRecords_result(ev));
                CHECK(res && res->cnt == 1 && !res->elems[0].err &&
                          res->elems[0].offset == 2,
                      "DeleteRecords: %s low watermark %lld",
                      res && res->cnt ? rd_kafka_err2name(res->elems[0].err) : "?",
                      res && res->cnt ? (long long)res->elems[0].offset : -1LL);
                rd_kafka_event_destroy(ev);
                rd_kafka_DeleteRecords_destroy(dr);
                rd_kafka_topic_partition_list_destroy(l);
        }
        CHECK(offset_for((RD_KAFKA_OFFSET_SPEC_EARLIEST), &ts) == 2,
              "earliest after DeleteRecords");
        CHECK(offset_for((1500), &ts) == 2 && ts == 2000,
              "offset for 1500 after DeleteRecords: ts %lld", (long long)ts);

        /* AlterConsumerGroupOffsets (OffsetCommit, generation -1) makes an
         * offsets-only group: listed (v5) and described (v5) Empty */
        {
                rd_kafka_topic_partition_list_t *l =
                    rd_kafka_topic_partition_list_new(1);
                rd_kafka_AlterConsumerGroupOffsets_t *a;
                const rd_kafka_group_result_t **gr;
                rd_kafka_topic_partition_list_add(l, topic, 0)->offset = 2;
                a = rd_kafka_AlterConsumerGroupOffsets_new(group2, l);
                rd_kafka_AlterConsumerGroupOffsets(
                    rk, &a, 1,
                    opts(RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS), q);
                ev = wait_result(RD_KAFKA_EVENT_ALTERCONSUMERGROUPOFFSETS_RESULT);
                gr = rd_kafka_AlterConsumerGroupOffsets_result_groups(
                    rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &cnt);
                CHECK(cnt == 1 && !rd_kafka_group_result_error(gr[0]) &&
                          !rd_kafka_group_result_partitions(gr[0])->elems[0].err,
                      "AlterConsumerGroupOffsets failed");
                rd_kafka_event_destroy(ev);
                rd_kafka_AlterConsumerGroupOffsets_destroy(a);
                rd_kafka_topic_partition_list_destroy(l);
        }
        CHECK(listed(group2, &st) && st == RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY,
              "offsets-only group not listed Empty");
        CHECK(describe_group(group2, &mcnt, &assigned) ==
                      RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY &&
                  mcnt == 0,
              "offsets-only group not described Empty");

        /* a running classic consumer: Stable, one member with 5 partitions */
        {
                rd_kafka_conf_t *cc = rd_kafka_conf_new();
                rd_kafka_t *c;
                rd_kafka_topic_partition_list_t *sub =
                    rd_kafka_topic_partition_list_new(1);
                rd_kafka_conf_set(cc, "bootstrap.servers", bootstrap, err,
                                  sizeof(err));
                rd_kafka_conf_set(cc, "group.id", group, err, sizeof(err));
                rd_kafka_conf_set(cc, "client.id", "admin-check-consumer", err,
                                  sizeof(err));
                c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof(err));
                CHECK(c, "%s", err);
                rd_kafka_poll_set_consumer(c);
                rd_kafka_topic_partition_list_add(sub, topic,
                                                  RD_KAFKA_PARTITION_UA);
                rd_kafka_subscribe(c, sub);
                rd_kafka_topic_partition_list_destroy(sub);
                for (i = 0; i < 300; i++) {
                        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
                        if (m)
                                rd_kafka_message_destroy(m);
                        if (i % 10 == 9 &&
                            describe_group(group, &mcnt, &assigned) ==
                                RD_KAFKA_CONSUMER_GROUP_STATE_STABLE &&
                            assigned == 5)
                                break;
                }
                CHECK(i < 300, "group never Stable with 5 assigned partitions");
                CHECK(listed(group, &st) &&
                          st == RD_KAFKA_CONSUMER_GROUP_STATE_STABLE,
                      "running group not listed Stable");

                /* DeleteGroups (v2, flexible): NON_EMPTY_GROUP while running */
                {
                        rd_kafka_DeleteGroup_t *dg = rd_kafka_DeleteGroup_new(group);
                        const rd_kafka_group_result_t **gr;
                        rd_kafka_DeleteGroups(rk, &dg, 1,
                                              opts(RD_KAFKA_ADMIN_OP_DELETEGROUPS),
                                              q);
                        ev = wait_result(RD_KAFKA_EVENT_DELETEGROUPS_RESULT);
                        gr = rd_kafka_DeleteGroups_result_groups(
                            rd_kafka_event_DeleteGroups_result(ev), &cnt);
                        CHECK(cnt == 1 &&
                                  rd_kafka_error_code(rd_kafka_group_result_error(
                                      gr[0])) == RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP,
                              "DeleteGroups of a running group");
                        rd_kafka_event_destroy(ev);
                        rd_kafka_DeleteGroup_destroy(dg);
                }
                rd_kafka_consumer_close(c);
                rd_kafka_destroy(c);
        }
        {
                const char *gs[] = {group, group2};
                rd_kafka_DeleteGroup_t *dg[2] = {rd_kafka_DeleteGroup_new(gs[0]),
                                                 rd_kafka_DeleteGroup_new(gs[1])};
                const rd_kafka_group_result_t **gr;
                rd_kafka_DeleteGroups(rk, dg, 2, opts(RD_KAFKA_ADMIN_OP_DELETEGROUPS),
                                      q);
                ev = wait_result(RD_KAFKA_EVENT_DELETEGROUPS_RESULT);
                gr = rd_kafka_DeleteGroups_result_groups(
                    rd_kafka_event_DeleteGroups_result(ev), &cnt);
                CHECK(cnt == 2 && !rd_kafka_group_result_error(gr[0]) &&
                          !rd_kafka_group_result_error(gr[1]),
                      "DeleteGroups after stop: %s",
                      rd_kafka_group_result_error(gr[0])
                          ? rd_kafka_error_string(rd_kafka_group_result_error(gr[0]))
                          : rd_kafka_group_result_error(gr[1])
                                ? rd_kafka_error_string(
                                      rd_kafka_group_result_error(gr[1]))
                                : "?");
                rd_kafka_event_destroy(ev);
                rd_kafka_DeleteGroup_destroy(dg[0]);
                rd_kafka_DeleteGroup_destroy(dg[1]);
        }
        CHECK(!listed(group, &st) && !listed(group2, &st),
              "deleted groups still listed");

        /* DeleteTopics (v4, flexible) */
        {
                rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(topic);
                const rd_kafka_topic_result_t **tr;
                rd_kafka_DeleteTopics(rk, &dt, 1,
                                      opts(RD_KAFKA_ADMIN_OP_DELETETOPICS), q);
                ev = wait_result(RD_KAFKA_EVENT_DELETETOPICS_RESULT);
                tr = rd_kafka_DeleteTopics_result_topics(
                    rd_kafka_event_DeleteTopics_result(ev), &cnt);
                CHECK(cnt == 1 && !rd_kafka_topic_result_error(tr[0]),
                      "DeleteTopics: %s",
                      rd_kafka_topic_result_error_string(tr[0]));
                rd_kafka_event_destroy(ev);
                rd_kafka_DeleteTopic_destroy(dt);
        }
        CHECK(partition_cnt(topic) == -1, "topic still there after delete");

        rd_kafka_queue_destroy(q);
        rd_kafka_destroy(rk);
        printf("ok\n");
        return 0;
}
