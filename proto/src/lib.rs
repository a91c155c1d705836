//! The protobuf contracts of cspr, generated at build time from the `.proto` files beside
//! this crate (`proto/cspr/...`), which are what agency developers read.
//!
//! # Layout
//! - [`registry::v1`]: the `ReviewRegistry` gRPC service and its messages.
//! - [`submissions::v1`]: the `AgencySubmissions` gRPC service (agency reports).
//! - [`practitioners::v1`]: the `PractitionerEngagement` gRPC service.
//! - [`family::v1`]: the `FamilyEngagement` gRPC service.
//! - [`actions::v1`]: the `ActionMonitoring` gRPC service.
//! - [`bench::v1`]: a bare echo service, the benchmark harness's ceiling.
//! - [`notifications::v1`]: the `Notifications` gRPC service (email deliveries).
//! - [`events::v1`]: the event envelope on the bus and every event body.
//! - [`google::r#type`]: the calendar `Date` shared by all APIs.
//! - [`FILE_DESCRIPTOR_SET`]: the encoded descriptors, for server reflection.
//!
//! Services use these modules; none compiles its own copy of a proto.

#![allow(
    unreachable_pub,
    clippy::large_enum_variant,
    clippy::doc_lazy_continuation
)]

/// Encoded `FileDescriptorSet` of every cspr proto, for `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/cspr_descriptor.bin"));

pub mod google {
    pub mod r#type {
        include!(concat!(env!("OUT_DIR"), "/google.r#type.rs"));
    }
}

pub mod cspr {
    pub mod registry {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/cspr.registry.v1.rs"));
        }
    }

    pub mod submissions {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/cspr.submissions.v1.rs"));
        }
    }

    pub mod practitioners {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/cspr.practitioners.v1.rs"));
        }
    }

    pub mod family {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/cspr.family.v1.rs"));
        }
    }

    pub mod actions {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/cspr.actions.v1.rs"));
        }
    }

    pub mod bench {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/cspr.bench.v1.rs"));
        }
    }

    pub mod notifications {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/cspr.notifications.v1.rs"));
        }
    }

    pub mod events {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/cspr.events.v1.rs"));
        }
    }
}

pub use cspr::{
    actions, bench, events, family, notifications, practitioners, registry, submissions,
};

impl events::v1::event::Body {
    /// The event type: the last token of its subject (e.g. `review_created`).
    pub fn type_name(&self) -> &'static str {
        use events::v1::event::Body;
        match self {
            Body::ReviewCreated(_) => "review_created",
            Body::NotificationSent(_) => "notification_sent",
            Body::DecisionRecorded(_) => "decision_recorded",
            Body::PanelMemberAppointed(_) => "panel_member_appointed",
            Body::ReviewerAppointed(_) => "reviewer_appointed",
            Body::TermsOfReferenceSet(_) => "terms_of_reference_set",
            Body::StageChanged(_) => "stage_changed",
            Body::ParallelProcessStarted(_) => "parallel_process_started",
            Body::ParallelProcessEnded(_) => "parallel_process_ended",
            Body::OverviewReportSubmitted(_) => "overview_report_submitted",
            Body::OverviewReportApproved(_) => "overview_report_approved",
            Body::PublicationScheduled(_) => "publication_scheduled",
            Body::PrePublicationNoticeRecorded(_) => "pre_publication_notice_recorded",
            Body::ReviewPublished(_) => "review_published",
            Body::ReviewClosed(_) => "review_closed",
            Body::DeadlineAtRisk(_) => "deadline_at_risk",
            Body::DeadlineMissed(_) => "deadline_missed",
            Body::InformationRequestedFromReviewer(_) => "information_requested_from_reviewer",
            Body::InformationRequestAnswered(_) => "information_request_answered",
            Body::PanelMemberFoundInvolved(_) => "panel_member_found_involved",
            Body::RapidReviewRecorded(_) => "rapid_review_recorded",
            Body::PanelResponseRecorded(_) => "panel_response_recorded",
            Body::InformationRequestOverdue(_) => "information_request_overdue",
            Body::PanelMeetingScheduled(_) => "panel_meeting_scheduled",
            Body::PanelMeetingCancelled(_) => "panel_meeting_cancelled",
            Body::PanelMeetingRecorded(_) => "panel_meeting_recorded",
            Body::OverviewReportCommented(_) => "overview_report_commented",
            Body::AgencyReportAccepted(_) => "agency_report_accepted",
            Body::AgencyReportWaived(_) => "agency_report_waived",
            Body::AgencyReportRequested(_) => "agency_report_requested",
            Body::AgencyReportSubmitted(_) => "agency_report_submitted",
            Body::AgencyReportReturned(_) => "agency_report_returned",
            Body::ReportDueSoon(_) => "report_due_soon",
            Body::ReportOverdue(_) => "report_overdue",
            Body::PractitionerRegistered(_) => "practitioner_registered",
            Body::ConversationScheduled(_) => "conversation_scheduled",
            Body::ContactDeferred(_) => "contact_deferred",
            Body::ContactReleased(_) => "contact_released",
            Body::DeferralReviewDue(_) => "deferral_review_due",
            Body::LearningRecorded(_) => "learning_recorded",
            Body::LearningEventScheduled(_) => "learning_event_scheduled",
            Body::FamilyContactRequested(_) => "family_contact_requested",
            Body::FamilyMemberAdded(_) => "family_member_added",
            Body::FamilyContactRestricted(_) => "family_contact_restricted",
            Body::FamilyRestrictionLifted(_) => "family_restriction_lifted",
            Body::FamilyRestrictionReviewDue(_) => "family_restriction_review_due",
            Body::FamilyContactRecorded(_) => "family_contact_recorded",
            Body::FamilyContributionRecorded(_) => "family_contribution_recorded",
            Body::PublicationResponseRecorded(_) => "publication_response_recorded",
            Body::PublicationConsultationSent(_) => "publication_consultation_sent",
            Body::ActionAssigned(_) => "action_assigned",
            Body::ActionDueSoon(_) => "action_due_soon",
            Body::ActionOverdue(_) => "action_overdue",
            Body::ActionProgressUpdated(_) => "action_progress_updated",
            Body::ActionVerified(_) => "action_verified",
            Body::ActionOverdueEscalated(_) => "action_overdue_escalated",
            Body::ActionPlanActivated(_) => "action_plan_activated",
            Body::ActionPlanCompleted(_) => "action_plan_completed",
        }
    }

    /// The service that publishes this event (the second subject token).
    pub fn producer(&self) -> &'static str {
        use events::v1::event::Body;
        match self {
            Body::AgencyReportAccepted(_)
            | Body::AgencyReportWaived(_)
            | Body::AgencyReportRequested(_)
            | Body::AgencyReportSubmitted(_)
            | Body::AgencyReportReturned(_)
            | Body::ReportDueSoon(_)
            | Body::ReportOverdue(_) => "submissions",
            Body::PractitionerRegistered(_)
            | Body::ConversationScheduled(_)
            | Body::LearningEventScheduled(_)
            | Body::ContactDeferred(_)
            | Body::ContactReleased(_)
            | Body::DeferralReviewDue(_)
            | Body::LearningRecorded(_) => "practitioners",
            Body::FamilyContactRequested(_)
            | Body::PublicationConsultationSent(_)
            | Body::FamilyMemberAdded(_)
            | Body::FamilyContactRestricted(_)
            | Body::FamilyRestrictionLifted(_)
            | Body::FamilyRestrictionReviewDue(_)
            | Body::FamilyContactRecorded(_)
            | Body::FamilyContributionRecorded(_)
            | Body::PublicationResponseRecorded(_) => "family",
            Body::ActionAssigned(_)
            | Body::ActionDueSoon(_)
            | Body::ActionOverdue(_)
            | Body::ActionProgressUpdated(_)
            | Body::ActionVerified(_)
            | Body::ActionOverdueEscalated(_)
            | Body::ActionPlanActivated(_)
            | Body::ActionPlanCompleted(_) => "actions",
            Body::ReviewCreated(_)
            | Body::NotificationSent(_)
            | Body::DecisionRecorded(_)
            | Body::PanelMemberAppointed(_)
            | Body::ReviewerAppointed(_)
            | Body::TermsOfReferenceSet(_)
            | Body::StageChanged(_)
            | Body::ParallelProcessStarted(_)
            | Body::ParallelProcessEnded(_)
            | Body::OverviewReportSubmitted(_)
            | Body::OverviewReportApproved(_)
            | Body::PublicationScheduled(_)
            | Body::PrePublicationNoticeRecorded(_)
            | Body::ReviewPublished(_)
            | Body::ReviewClosed(_)
            | Body::DeadlineAtRisk(_)
            | Body::DeadlineMissed(_)
            | Body::InformationRequestedFromReviewer(_)
            | Body::InformationRequestAnswered(_)
            | Body::PanelMemberFoundInvolved(_)
            | Body::RapidReviewRecorded(_)
            | Body::PanelResponseRecorded(_)
            | Body::InformationRequestOverdue(_)
            | Body::PanelMeetingScheduled(_)
            | Body::PanelMeetingCancelled(_)
            | Body::PanelMeetingRecorded(_)
            | Body::OverviewReportCommented(_) => "registry",
        }
    }
}

/// A generated gRPC server whose message size limits can be set through one trait: tonic
/// generates the setters as inherent methods of each server, and the platform's start-up
/// builder applies the same limit to every service (one that forgets cannot be built).
pub trait MessageSizeLimit {
    /// Refuses requests and responses larger than `max_bytes` (decoded and encoded). Tonic
    /// answers them OUT_OF_RANGE; the platform's server turns that into gRPC's code for it,
    /// RESOURCE_EXHAUSTED (`cspr_platform`'s `size_limit`).
    fn limit_message_size(self, max_bytes: usize) -> Self;
}

macro_rules! message_size_limit {
    ($($server:path => $service:path),* $(,)?) => {
        $(
            impl<T: $service> MessageSizeLimit for $server {
                fn limit_message_size(self, max_bytes: usize) -> Self {
                    self.max_decoding_message_size(max_bytes)
                        .max_encoding_message_size(max_bytes)
                }
            }
        )*
    };
}

message_size_limit! {
    registry::v1::review_registry_server::ReviewRegistryServer<T>
        => registry::v1::review_registry_server::ReviewRegistry,
    submissions::v1::agency_submissions_server::AgencySubmissionsServer<T>
        => submissions::v1::agency_submissions_server::AgencySubmissions,
    practitioners::v1::practitioner_engagement_server::PractitionerEngagementServer<T>
        => practitioners::v1::practitioner_engagement_server::PractitionerEngagement,
    family::v1::family_engagement_server::FamilyEngagementServer<T>
        => family::v1::family_engagement_server::FamilyEngagement,
    actions::v1::action_monitoring_server::ActionMonitoringServer<T>
        => actions::v1::action_monitoring_server::ActionMonitoring,
    notifications::v1::notifications_server::NotificationsServer<T>
        => notifications::v1::notifications_server::Notifications,
    bench::v1::echo_server::EchoServer<T> => bench::v1::echo_server::Echo,
}
